// What one sidecar costs its pod as the policy count grows: spawn to first 200, idle RSS one
// second after, and CPU microseconds per signed-in request at saturation (from /proc), for an
// application of 2 policies and one of 2 + N team policies (bench/signed-in-app.ts: each allows
// one group on its own paths, so none of them matches the measured request). The
// sidecar is the built one as shipped (dist/, its NODE_OPTIONS), pinned to core 0; wrk and the
// upstream run on core 1. Prints the medians of --runs.
//
//   npm run build && taskset -c 1 node bench/sidecar-start.ts [--runs 3] [--policies 998] [--duration 5]
//
// Needs wrk (apt-get install -y wrk).
import { execFileSync, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SIDECAR_NODE_ENV } from '../contract/sidecar-node-options.ts';
import {
  children,
  cpuTicks,
  freePort,
  HZ,
  startUpstreamOnLoadCore,
  statusMiB,
  waitFor200,
} from './process-measures.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    policies: { type: 'string', default: '998' },
    duration: { type: 'string', default: '5' },
  },
});
const RUNS = Number(values.runs);
const EXTRA = Number(values.policies);
const DURATION = Number(values.duration);

function wrkRequests(url: string, cookie: string): number {
  const out = execFileSync(
    'taskset',
    ['-c', '1', 'wrk', '-t1', '-c50', `-d${DURATION}s`, '-H', `Cookie: ${cookie}`, url],
    { encoding: 'utf8' },
  );
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`${url}: some responses were not 2xx:\n${out}`);
  return Number(/(\d+) requests in/.exec(out)?.[1]);
}

interface Figures {
  spawnMs: number;
  idleMiB: number;
  cpuUs: number;
}

async function measure(upstreamUrl: string, extra: number): Promise<Figures> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, 'bench', extra);
  const started = performance.now();
  const child = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      join(root, 'dist/bin/gatehouse.js'),
      'sidecar',
      '--config',
      dir,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...SIDECAR_NODE_ENV } },
  );
  children.add(child);
  child.once('exit', (code) => {
    if (children.has(child)) {
      console.error(`bench: the sidecar exited (${code}) before the measurement ended`);
      process.exit(1);
    }
  });
  await waitFor200(`${origin}/public/small`);
  const spawnMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 1000));
  const pid = child.pid as number;
  const idleMiB = statusMiB(pid, 'VmRSS');
  wrkRequests(`${origin}/small`, cookie); // warm-up
  const before = cpuTicks(pid);
  const requests = wrkRequests(`${origin}/small`, cookie);
  const cpuUs = ((cpuTicks(pid) - before) / HZ / requests) * 1e6;
  children.delete(child);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { spawnMs, idleMiB, cpuUs };
}

const { url: upstreamUrl } = await startUpstreamOnLoadCore();

const counts = [0, EXTRA];
const results = new Map<number, Figures[]>(counts.map((c) => [c, []]));
for (let run = 0; run < RUNS; run++)
  for (const extra of counts) {
    const figures = await measure(upstreamUrl, extra);
    results.get(extra)?.push(figures);
    console.error(`run ${run + 1}: ${2 + extra} policies: ${JSON.stringify(figures)}`);
  }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const col = (extra: number, pick: (f: Figures) => number, digits: number) =>
  median((results.get(extra) ?? []).map(pick)).toFixed(digits);
console.log(
  `\nnode ${process.version}; medians of ${RUNS} runs; sidecar on core 0, wrk and upstream on core 1\n`,
);
console.log(`| | 2 policies | ${2 + EXTRA} policies |`);
console.log('|---|---:|---:|');
for (const [label, pick, digits] of [
  ['spawn → first 200, ms', (f: Figures) => f.spawnMs, 0],
  ['idle RSS, MiB', (f: Figures) => f.idleMiB, 0],
  ['CPU µs per signed-in request, saturation', (f: Figures) => f.cpuUs, 1],
] as const)
  console.log(`| ${label} | ${col(0, pick, digits)} | ${col(EXTRA, pick, digits)} |`);
process.exit(0);
