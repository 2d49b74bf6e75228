/**
 * Soak: the built sidecar (shipped NODE_OPTIONS, default limits) at a steady request rate for a
 * long time, 1% of the clients hostile (slow uploads, requests abandoned mid-flight, slowloris
 * heads, reset upgrades, mutated requests), the rest a signed-in user and anonymous visitors.
 * Reports RSS over time (drift between the first and last fifth after warm-up), latency, and
 * whether every answered request has its log line.
 *
 *   npm run build && node bench/soak.ts [--minutes 30] [--rate 500]
 */
import './bench-tmpdir.ts';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { LEGIT_PREFIX, startInvariantUpstream } from '../test/harness/invariant-upstream.ts';
import { createPrng } from '../test/harness/prng.ts';
import { exchange } from '../test/harness/raw-exchange.ts';
import { fuzzCase } from '../test/harness/requests.ts';
import { dial } from '../test/helpers/hostile.ts';
import { SIDECAR_ENV, sidecarArgv } from '../test/helpers/sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '30' }, rate: { type: 'string', default: '500' } },
});
const durationMs = Number(values.minutes) * 60_000;
const rate = Number(values.rate);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const upstream = await startInvariantUpstream();
const port = 20_000 + Math.floor(Math.random() * 20_000);
const origin = `http://127.0.0.1:${port}`;
const { dir, cookie } = await writeSignedInApp(upstream.url, origin, 'soak');
const child = spawn(process.execPath, sidecarArgv(dir, `127.0.0.1:${port}`), {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: SIDECAR_ENV,
});
const logged = new Set<string>();
let lines = 0;
let unparseable = 0;
const stdoutDone = new Promise<void>((resolve) =>
  createInterface({ input: child.stdout })
    .on('line', (text) => {
      lines++;
      if (text[0] !== '{' || text.at(-1) !== '}') unparseable++;
      const id = /^\{"type":"request","time":"[^"]*","requestId":"([^"]+)"/.exec(text)?.[1];
      if (id) logged.add(id);
    })
    .on('close', resolve),
);
const rssMiB = () =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024);
const pool = new Pool(origin, { connections: 64 });
for (let i = 0; ; i++) {
  try {
    await (await pool.request({ path: '/public/ready', method: 'GET' })).body.text();
    break;
  } catch {
    if (i > 200) throw new Error('sidecar did not start');
    await sleep(50);
  }
}

const answeredIds: string[] = [];
const stats = { sent: 0, ok: 0, failed: 0, hostile: 0, latencies: [] as number[] };
const rss: { minute: number; mib: number }[] = [];
const rng = createPrng(42);
const H = 'Host: 127.0.0.1\r\n';
const from = () => `127.6.${rng.int(250)}.${1 + rng.int(250)}`;
const hostile = async () => {
  stats.hostile++;
  const kind = rng.int(5);
  if (kind === 4) {
    await exchange(port, fuzzCase(rng));
    return;
  }
  const s = await dial(port, from());
  if (!s) return;
  s.on('data', () => undefined);
  if (kind === 0) {
    s.write(`POST /public/upload HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\n`);
    for (let i = 0; i < 40 && !s.destroyed; i++) {
      s.write('0123456789');
      await sleep(1_000);
    }
  } else if (kind === 1) {
    s.write(`GET /public/slow HTTP/1.1\r\n${H}\r\n`);
    await sleep(rng.int(100));
    s.resetAndDestroy();
  } else if (kind === 2) {
    for (const c of `GET /public/x HTTP/1.1\r\n${H}X-Slow: aaaaaaaaaaaaaaaaaaaa`) {
      if (s.destroyed) break;
      s.write(c);
      await sleep(1_000);
    }
  } else {
    s.write(
      `GET /public/ws HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await sleep(rng.int(50));
    s.resetAndDestroy();
  }
  s.destroy();
};
const legit = async (n: number) => {
  const t0 = performance.now();
  stats.sent++;
  try {
    const signedIn = n % 2 === 0;
    const res = await pool.request({
      path: signedIn ? `${LEGIT_PREFIX}${n}` : `/public/page-${n}`,
      method: 'GET',
      headers: signedIn ? { cookie } : {},
      headersTimeout: 10_000,
    });
    await res.body.text();
    const id = res.headers['x-request-id'];
    if (typeof id === 'string') answeredIds.push(id);
    if (res.statusCode === 200) stats.ok++;
    else stats.failed++;
  } catch {
    stats.failed++;
  }
  if (stats.latencies.length < 2_000_000) stats.latencies.push(performance.now() - t0);
};

const started = performance.now();
const inFlight = new Set<Promise<void>>();
let n = 0;
let nextRss = 0;
while (performance.now() - started < durationMs) {
  const tick = performance.now();
  const due = Math.floor(((tick - started) / 1000) * rate) - n;
  for (let i = 0; i < due; i++) {
    const p = (n % 100 === 99 ? hostile() : legit(n)).finally(() => inFlight.delete(p));
    inFlight.add(p);
    n++;
  }
  if (tick - started >= nextRss) {
    rss.push({ minute: Math.round((tick - started) / 6_000) / 10, mib: rssMiB() });
    process.stderr.write(
      `${Math.round((tick - started) / 1000)} s: ${n} requests, RSS ${rss.at(-1)?.mib} MiB, in flight ${inFlight.size}\n`,
    );
    nextRss += 10_000;
  }
  await sleep(10);
}
await Promise.all(inFlight);
await pool.close();
child.kill('SIGTERM');
await stdoutDone;
await upstream.close();

const steady = rss.filter((r) => r.minute >= 1);
const fifth = Math.max(1, Math.floor(steady.length / 5));
const avg = (xs: { mib: number }[]) => xs.reduce((a, r) => a + r.mib, 0) / xs.length;
const early = avg(steady.slice(0, fifth));
const late = avg(steady.slice(-fifth));
const sorted = stats.latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);
const missing = answeredIds.filter((id) => !logged.has(id)).length;
const report = {
  minutes: Number(values.minutes),
  ratePerSecond: rate,
  requests: n,
  legit: { sent: stats.sent, ok: stats.ok, failed: stats.failed, p50Ms: pct(0.5), p99Ms: pct(0.99) },
  hostileClients: stats.hostile,
  rssMiB: {
    afterWarmup: Math.round(early),
    end: Math.round(late),
    max: Math.max(...rss.map((r) => r.mib)),
    driftPercent: Math.round(((late - early) / early) * 1000) / 10,
  },
  lines: { total: lines, unparseable, answeredWithoutLine: missing },
  invariantViolations: upstream.violations.length,
  rss,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(missing === 0 && unparseable === 0 && Math.abs(report.rssMiB.driftPercent) < 10 ? 0 : 1);
