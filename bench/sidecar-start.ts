// What one sidecar costs its pod as the policy count grows: spawn to first 200, idle RSS one
// second after and 16 s after (once a quiet sidecar has given memory back), and CPU
// microseconds per signed-in request at saturation (from /proc), for an application of 2
// policies and one of 2 + N team policies (bench/signed-in-app.ts: each allows one group on its
// own paths, so none of them matches the measured request). The sidecar is the built one as shipped (dist/, its NODE_OPTIONS and the image's compile cache;
// `--compile-cache on,off` adds the same without the cache; `--against <dir>` adds the same for
// another build's dist/, e.g. an earlier commit's, interleaved), pinned to core 0; wrk and the
// upstream run on core 1. Both ways a sidecar gets its config: from a YAML file (standalone) and
// from the operator's stream (cluster mode; a stand-in operator in this process serves the same
// application as the operator renders it, one JSON line over HTTPS). Prints the medians of --runs.
//
//   npm run build && taskset -c 1 node bench/sidecar-start.ts [--runs 3] [--policies 998] [--duration 5] [--modes file,cluster] [--compile-cache on,off] [--against <dist>]
//
// Needs wrk (apt-get install -y wrk).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  children,
  freePort,
  injectedMemoryGroup,
  memoryNote,
  startUpstreamOnLoadCore,
  statusMiB,
  stopChild,
  waitFor200,
  wrkCpuUsPerRequest,
} from './process-measures.ts';
import { BUILT_DIST, imageCompileCache, RESTED_SECONDS, spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';
import { standInOperator } from './stand-in-operator.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    policies: { type: 'string', default: '998' },
    duration: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'file,cluster' },
    'compile-cache': { type: 'string', default: 'on' },
    against: { type: 'string' },
  },
});
type Mode = 'file' | 'cluster';
const MODES = values.modes.split(',') as Mode[];
for (const mode of MODES)
  if (mode !== 'file' && mode !== 'cluster') {
    console.error(`bench: --modes: unknown mode ${mode}; known: file, cluster`);
    process.exit(2);
  }
const CACHES = values['compile-cache'].split(',');
for (const cache of CACHES)
  if (cache !== 'on' && cache !== 'off') {
    console.error(`bench: --compile-cache: ${cache}; give on, off or on,off`);
    process.exit(2);
  }
const BUILDS = [BUILT_DIST];
if (values.against !== undefined) {
  const against = resolve(values.against);
  if (!existsSync(join(against, 'bin/gatehouse.js'))) {
    console.error(`bench: --against: ${against} holds no built gatehouse (bin/gatehouse.js)`);
    process.exit(2);
  }
  BUILDS.push(against);
}
const RUNS = Number(values.runs);
const EXTRA = Number(values.policies);
const DURATION = Number(values.duration);

/** CPU µs per signed-in request in a wrk run of --duration at 50 connections. */
function signedInCpuUs(pid: number, url: string, cookie: string): number {
  return wrkCpuUsPerRequest(pid, url, { connections: 50, seconds: DURATION, headers: [`Cookie: ${cookie}`] });
}

interface Figures {
  spawnMs: number;
  idleMiB: number;
  restedMiB: number;
  cpuUs: number;
}

/** The sidecar runs with the injected container's default memory limit. */
const memory = injectedMemoryGroup();

/** One measured case: the config source, the extra policies, with or without the cache, which build. */
interface Case {
  readonly mode: Mode;
  readonly extra: number;
  readonly cache: string;
  readonly dist: string;
}

async function measure(upstreamUrl: string, { mode, extra, cache, dist }: Case): Promise<Figures> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, 'bench', extra);
  const operator = mode === 'cluster' ? await standInOperator(dir) : undefined;
  const started = performance.now();
  const child = spawnBuiltSidecar(dir, port, {
    configFlags: operator?.flags,
    pin: { core: 0, memory },
    noCompileCache: cache === 'off',
    dist,
  });
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
  await new Promise((r) => setTimeout(r, (RESTED_SECONDS - 1) * 1000));
  const restedMiB = statusMiB(pid, 'VmRSS');
  signedInCpuUs(pid, `${origin}/small`, cookie); // warm-up
  const cpuUs = signedInCpuUs(pid, `${origin}/small`, cookie);
  await stopChild(child);
  await operator?.close();
  return { spawnMs, idleMiB, restedMiB, cpuUs };
}

const { url: upstreamUrl } = await startUpstreamOnLoadCore();
// The image's compile cache is made once per build, here, not inside the first spawn's timing.
if (CACHES.includes('on')) for (const dist of BUILDS) imageCompileCache(dist);

const cases: Case[] = MODES.flatMap((mode) =>
  [...new Set([0, EXTRA])].flatMap((extra) =>
    CACHES.flatMap((cache) => BUILDS.map((dist) => ({ mode, extra, cache, dist }))),
  ),
);
const key = (c: Case) =>
  `${c.mode}, ${2 + c.extra} policies${CACHES.length > 1 ? `, cache ${c.cache}` : ''}${
    BUILDS.length > 1 ? (c.dist === BUILT_DIST ? ', this build' : ', --against') : ''
  }`;
const results = new Map<string, Figures[]>(cases.map((c) => [key(c), []]));
for (let run = 0; run < RUNS; run++)
  for (const c of cases) {
    const figures = await measure(upstreamUrl, c);
    results.get(key(c))?.push(figures);
    console.error(`run ${run + 1}: ${key(c)}: ${JSON.stringify(figures)}`);
  }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const col = (name: string, pick: (f: Figures) => number, digits: number) =>
  median((results.get(name) ?? []).map(pick)).toFixed(digits);
console.log(
  `\nnode ${process.version}; medians of ${RUNS} runs; sidecar on core 0 (${memoryNote(memory)}), wrk and upstream on core 1\n`,
);
const names = cases.map(key);
console.log(`| | ${names.join(' | ')} |`);
console.log(`|---|${names.map(() => '---:').join('|')}|`);
for (const [label, pick, digits] of [
  ['spawn → first 200, ms', (f: Figures) => f.spawnMs, 0],
  ['idle RSS, MiB', (f: Figures) => f.idleMiB, 0],
  [`idle RSS ${RESTED_SECONDS} s after the first answer, MiB`, (f: Figures) => f.restedMiB, 0],
  ['CPU µs per signed-in request, saturation', (f: Figures) => f.cpuUs, 1],
] as const)
  console.log(`| ${label} | ${names.map((n) => col(n, pick, digits)).join(' | ')} |`);
process.exit(0);
