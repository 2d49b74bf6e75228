// A closed-loop load generator for bench/proxy-cost.ts: N keep-alive clients, each sending its
// next request as soon as its previous answer has arrived, for a number of seconds. Prints one
// JSON line: the latency percentiles of the whole run, of the requests that started after the
// first second (connections open, steady state), and the slowest request of the first second.
// With N clients at saturation the median is N / throughput (Little's law); a fair proxy keeps
// the p99 close to it, an unfair one lets some clients wait far longer.
//
//   node bench/closed-loop.ts <url> <clients> <seconds> [header: value]...
import { Client } from 'undici';

const [url, clientsText, secondsText, ...headerArgs] = process.argv.slice(2);
if (!url || !clientsText || !secondsText) {
  console.error('usage: node bench/closed-loop.ts <url> <clients> <seconds> [header: value]...');
  process.exit(2);
}
const target = new URL(url);
const clients = Number(clientsText);
const seconds = Number(secondsText);
const headers: Record<string, string> = {};
for (const h of headerArgs) {
  const colon = h.indexOf(':');
  headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
}

/** [start offset ms, latency ms] of every answered request. */
const samples: [number, number][] = [];
let failed = 0;
let non2xx = 0;
const began = performance.now();
let stopping = false;

async function client(): Promise<void> {
  const connection = new Client(target.origin, { pipelining: 1, keepAliveTimeout: 60_000 });
  while (!stopping) {
    const start = performance.now();
    try {
      const answer = await connection.request({
        path: target.pathname + target.search,
        method: 'GET',
        headers,
      });
      await answer.body.dump();
      if (answer.statusCode < 200 || answer.statusCode > 299) non2xx += 1;
      samples.push([start - began, performance.now() - start]);
    } catch {
      failed += 1;
    }
  }
  await connection.close();
}

setTimeout(() => {
  stopping = true;
}, seconds * 1000);
await Promise.all(Array.from({ length: clients }, client));

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
const all = samples.map(([, latency]) => latency).sort((a, b) => a - b);
const steady = samples
  .filter(([start]) => start >= 1000)
  .map(([, latency]) => latency)
  .sort((a, b) => a - b);
const first = samples.filter(([start]) => start < 1000).map(([, latency]) => latency);
const round = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify({
    requests: samples.length,
    failed,
    non2xx,
    p50: round(quantile(all, 0.5)),
    p99: round(quantile(all, 0.99)),
    max: round(all.at(-1) ?? 0),
    steadyP50: round(quantile(steady, 0.5)),
    steadyP99: round(quantile(steady, 0.99)),
    steadyMax: round(steady.at(-1) ?? 0),
    firstSecondMax: round(Math.max(0, ...first)),
  }),
);
