// The tail at a constant rate through a fresh sidecar, with the shipped NODE_OPTIONS and with
// V8's default four background threads, interleaved. A fresh built sidecar on core 0 (signed-in
// app of bench/signed-in-app.ts, bench/upstream-server.ts and vegeta on core 1) gets a short
// warm-up, then --duration seconds at --rate requests/s signed in: p50, p99 and the slowest
// request (vegeta), and the CPU its threads used meanwhile (the request thread against V8's
// background threads, from /proc/<pid>/task). Some seconds into sustained load V8 optimizes the
// hot request path in a burst of compiles on its background threads; this is where that shows.
// Beside it, what the latency is made of: the upstream alone at the same rate (before the warm-up;
// the floor of the load core), and, from the sidecar's own request lines of the measured seconds,
// its own time per request (durationMs minus upstreamMs: from the request's head to the end of
// its answer, less the wait for the upstream's) and the upstream wait as the sidecar saw it. The
// own time is a lower bound: it leaves out the accept and read of the request before its head is
// parsed and anything the event loop did while the upstream's answer waited to be read.
//
//   npm run build && taskset -c 1 node bench/rate-tail.ts [--runs 3] [--duration 20] [--rate 1000]
//
// Needs taskset (util-linux); builds vegeta once from its Go module (scripts/bench-tools.sh).
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SIDECAR_NODE_OPTIONS } from '../contract/sidecar-node-options.ts';
import {
  benchTools,
  children,
  constantRateAttack,
  freePort,
  HZ,
  injectedMemoryGroup,
  memoryNote,
  startUpstreamOnLoadCore,
  stopChild,
  threadTicks,
  waitFor200,
} from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
  },
});
const RUNS = Number(values.runs);
const tools = benchTools();
const vegeta = join(tools, 'vegeta');

/** The shipped options, and the same without the background thread setting (V8's default four). */
const VARIANTS: ReadonlyArray<{ name: string; nodeOptions: string }> = [
  { name: 'shipped', nodeOptions: SIDECAR_NODE_OPTIONS },
  {
    name: 'four V8 threads',
    nodeOptions: SIDECAR_NODE_OPTIONS.split(' ')
      .filter((o) => !o.startsWith('--v8-pool-size'))
      .join(' '),
  },
];

interface Figures {
  p50: number;
  p99: number;
  max: number;
  requestThreadMs: number;
  v8ThreadsMs: number;
  /** The upstream alone at the same rate, before the warm-up. */
  directP50: number;
  directP99: number;
  /** From the sidecar's request lines of the measured seconds. */
  ownP50: number;
  ownP99: number;
  upstreamP50: number;
  upstreamP99: number;
}

/** The q-quantile of some numbers (nearest rank). */
function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

/** The request lines written from `offset` on: the sidecar's own time and the upstream wait, ms. */
function requestTimes(logFile: string, offset: number): { own: number[]; upstream: number[] } {
  const own: number[] = [];
  const upstream: number[] = [];
  for (const line of readFileSync(logFile).subarray(offset).toString('utf8').split('\n')) {
    if (!line.startsWith('{"type":"request"')) continue;
    const record = JSON.parse(line) as { durationMs: number; upstreamMs: number | null };
    if (record.upstreamMs === null) continue;
    own.push(record.durationMs - record.upstreamMs);
    upstream.push(record.upstreamMs);
  }
  return { own, upstream };
}

/** The sidecar runs with the injected container's default memory limit. */
const memory = injectedMemoryGroup();
const upstream = await startUpstreamOnLoadCore();
const logs = mkdtempSync(join(tmpdir(), 'gatehouse-rate-tail-'));
/** Time for the sidecar's log batches (5 ms apart) to reach the file. */
const LOG_SETTLE_MS = 200;
async function measure(nodeOptions: string, run: number): Promise<Figures> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstream.url, origin, 'tail');
  const logFile = join(logs, `${run}-${port}.jsonl`);
  const fd = openSync(logFile, 'w');
  const child = spawnBuiltSidecar(dir, port, { nodeOptions, pin: { core: 0, memory }, stdout: fd });
  closeSync(fd);
  children.add(child);
  await waitFor200(`${origin}/small`, { cookie });
  const pid = child.pid as number;
  const target = `GET ${origin}/small\nCookie: ${cookie}\n`;
  const rate = Number(values.rate);
  // Before the warm-up: seconds without a request would let the sidecar's idle collection run
  // between the warm-up and the measured seconds.
  const direct = constantRateAttack(vegeta, `GET ${upstream.url}/small\n`, rate, Number(values.duration));
  constantRateAttack(vegeta, target, rate, Number(values.warmup));
  await new Promise((r) => setTimeout(r, LOG_SETTLE_MS));
  const offset = readFileSync(logFile).length;
  const before = threadTicks(pid);
  const result = constantRateAttack(vegeta, target, rate, Number(values.duration));
  const after = threadTicks(pid);
  await new Promise((r) => setTimeout(r, LOG_SETTLE_MS));
  const times = requestTimes(logFile, offset);
  await stopChild(child);
  if (Object.keys(result.codes).some((c) => c !== '200'))
    throw new Error(`status codes ${JSON.stringify(result.codes)}`);
  const used = (name: string): number => (((after.get(name) ?? 0) - (before.get(name) ?? 0)) / HZ) * 1000;
  return {
    ...result,
    requestThreadMs: used('MainThread'),
    v8ThreadsMs: used('V8Worker'),
    directP50: direct.p50,
    directP99: direct.p99,
    ownP50: quantile(times.own, 0.5),
    ownP99: quantile(times.own, 0.99),
    upstreamP50: quantile(times.upstream, 0.5),
    upstreamP99: quantile(times.upstream, 0.99),
  };
}

const results = new Map<string, Figures[]>(VARIANTS.map((v) => [v.name, []]));
for (let run = 0; run < RUNS; run++)
  for (const variant of VARIANTS) {
    const figures = await measure(variant.nodeOptions, run);
    results.get(variant.name)?.push(figures);
    console.error(`run ${run + 1} ${variant.name}: ${JSON.stringify(figures)}`);
  }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const row = (label: string, pick: (f: Figures) => number, digits: number): string =>
  `| ${label} | ${VARIANTS.map((v) => {
    const all = (results.get(v.name) ?? []).map(pick);
    return `${median(all).toFixed(digits)} (${all.map((x) => x.toFixed(digits)).join(', ')})`;
  }).join(' | ')} |`;
console.log(
  `\n${values.rate} requests/s signed in for ${values.duration} s after a ${values.warmup} s warm-up, the sidecar ${memoryNote(memory)}; medians of ${RUNS} (each run)\n`,
);
console.log(`| | ${VARIANTS.map((v) => `${v.name} (\`${v.nodeOptions}\`)`).join(' | ')} |`);
console.log(`|---|${VARIANTS.map(() => '---:').join('|')}|`);
console.log(row('p50, ms', (f) => f.p50, 2));
console.log(row('p99, ms', (f) => f.p99, 1));
console.log(row('slowest, ms', (f) => f.max, 0));
console.log(row('the upstream alone at the same rate: p50, ms', (f) => f.directP50, 2));
console.log(row('the upstream alone at the same rate: p99, ms', (f) => f.directP99, 1));
console.log(row("the sidecar's own time (its request lines): p50, ms", (f) => f.ownP50, 2));
console.log(row("the sidecar's own time (its request lines): p99, ms", (f) => f.ownP99, 2));
console.log(row('the upstream wait as the sidecar saw it: p50, ms', (f) => f.upstreamP50, 2));
console.log(row('the upstream wait as the sidecar saw it: p99, ms', (f) => f.upstreamP99, 1));
console.log(row('CPU of the request thread, ms', (f) => f.requestThreadMs, 0));
console.log(row("CPU of V8's background threads, ms", (f) => f.v8ThreadsMs, 0));
rmSync(logs, { recursive: true, force: true });
process.exit(0);
