// What gives a sidecar's memory back after a load: its own idle collection
// (lib/idle-collection.ts) or V8's memory reducer, and what each costs at rest. A fresh built
// sidecar as injected (its config from a stand-in operator over TLS, pinned to core 0 in the
// injected container's memory limit, started with V8's --trace-gc and --trace-memory-reducer)
// rests for --start-rest seconds, takes --load seconds of wrk -c50 on core 1, then rests for
// --rest seconds; every second the benchmark reads its anonymous memory and CPU (/proc), and
// the idle collections it counted (/metrics) and, from its stdout, the collections V8's memory
// reducer started ("Memory reducer: started GC"). Twice per run: as shipped, and
// with `--idle-collection-after 0s` (no idle collection), interleaved.
//
//   npm run build && taskset -c 1 node bench/memory-reducer.ts [--runs 2] [--start-rest 30] [--load 3] [--rest 60]
//
// Needs taskset (util-linux) and wrk.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from '../lib/backoff.ts';
import {
  children,
  cpuNanos,
  freePort,
  injectedMemoryGroup,
  memoryNote,
  startUpstreamOnLoadCore,
  statusMiB,
  stopChild,
  waitFor200,
  wrkOnLoadCore,
} from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';
import { standInOperator } from './stand-in-operator.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    'start-rest': { type: 'string', default: '30' },
    load: { type: 'string', default: '3' },
    rest: { type: 'string', default: '60' },
  },
});
const RUNS = Number(values.runs);
const START_REST_S = Number(values['start-rest']);
const LOAD_S = Number(values.load);
const REST_S = Number(values.rest);
for (const [name, value] of [
  ['runs', RUNS],
  ['start-rest', START_REST_S],
  ['load', LOAD_S],
  ['rest', REST_S],
] as const)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a whole number of at least 1`);

const VARIANTS: ReadonlyArray<{ name: string; flags: readonly string[] }> = [
  { name: 'shipped', flags: [] },
  { name: 'no idle collection', flags: ['--idle-collection-after', '0s'] },
];

/** Collections of a sidecar so far. */
interface Collections {
  /** Its own idle collections (gatehouse_idle_collections_total). */
  readonly own: number;
  /** Collections V8's memory reducer started (its --trace-memory-reducer lines). */
  readonly reducer: number;
}

async function idleCollections(adminPort: number): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const own = Number(/^gatehouse_idle_collections_total (\d+)$/m.exec(metrics)?.[1]);
  if (!Number.isInteger(own)) throw new Error('no gatehouse_idle_collections_total on /metrics');
  return own;
}

const REDUCER_STARTED = 'Memory reducer: started GC';

/**
 * Counts the reducer's collections in a sidecar's stdout as it grows, reading only what was
 * appended since the last call (the stdout holds the load's request lines too, tens of MB).
 */
function reducerCounter(file: string): { count(): number; close(): void } {
  const fd = openSync(file, 'r');
  let offset = 0;
  let count = 0;
  let partial = '';
  return {
    count() {
      const size = fstatSync(fd).size;
      if (size > offset) {
        const chunk = Buffer.alloc(size - offset);
        offset += readSync(fd, chunk, 0, chunk.length, offset);
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.includes(REDUCER_STARTED)) count++;
      }
      return count;
    },
    close: () => closeSync(fd),
  };
}

interface Timeline {
  /** Anonymous memory (MiB) at the end of the start's rest and right after the load. */
  readonly beforeLoadMiB: number;
  readonly afterLoadMiB: number;
  /** Anonymous memory each second of the rest after the load. */
  readonly restMiB: readonly number[];
  /** Seconds after the load at which each kind of collection ran, in order. */
  readonly ownAt: readonly number[];
  readonly reducerAt: readonly number[];
  /** Collections of each kind during the start's rest. */
  readonly atStart: Collections;
  /** CPU of the sidecar (all threads) during the start's rest and the rest after the load, ms. */
  readonly startRestCpuMs: number;
  readonly restCpuMs: number;
}

const memory = injectedMemoryGroup('memory-reducer');
const upstream = await startUpstreamOnLoadCore();
const logs = mkdtempSync(join(tmpdir(), 'gatehouse-memory-reducer-'));

async function measure(flags: readonly string[], run: number): Promise<Timeline> {
  const port = await freePort();
  const adminPort = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir } = await writeSignedInApp(upstream.url, origin, 'reducer', 0);
  const operator = await standInOperator(dir);
  const out = join(logs, `${run}-${port}.log`);
  const fd = openSync(out, 'w');
  const child = spawnBuiltSidecar(dir, port, {
    configFlags: [...operator.flags, ...flags],
    pin: { core: 0, memory },
    adminPort,
    nodeArgs: ['--trace-gc', '--trace-memory-reducer'],
    stdout: fd,
  });
  closeSync(fd);
  children.add(child);
  const reducer = reducerCounter(out);
  const collections = async (): Promise<Collections> => ({
    own: await idleCollections(adminPort),
    reducer: reducer.count(),
  });
  try {
    await waitFor200(`${origin}/public/small`);
    const pid = child.pid as number;
    const anon = () => statusMiB(pid, 'RssAnon');
    const startCpu = cpuNanos(pid);
    await sleep(START_REST_S * 1000);
    const atStart = await collections();
    const startRestCpuMs = (cpuNanos(pid) - startCpu) / 1e6;
    const beforeLoadMiB = anon();
    wrkOnLoadCore(`${origin}/public/small`, { connections: 50, seconds: LOAD_S });
    const afterLoadMiB = anon();
    const afterLoad = await collections();
    const restCpu = cpuNanos(pid);
    const restMiB: number[] = [];
    const ownAt: number[] = [];
    const reducerAt: number[] = [];
    let seen = afterLoad;
    for (let s = 1; s <= REST_S; s++) {
      await sleep(1000);
      restMiB.push(anon());
      const now = await collections();
      for (let i = seen.own; i < now.own; i++) ownAt.push(s);
      for (let i = seen.reducer; i < now.reducer; i++) reducerAt.push(s);
      seen = now;
    }
    const restCpuMs = (cpuNanos(pid) - restCpu) / 1e6;
    return { beforeLoadMiB, afterLoadMiB, restMiB, ownAt, reducerAt, atStart, startRestCpuMs, restCpuMs };
  } finally {
    reducer.close();
    await stopChild(child);
    await operator.close();
  }
}

const results = new Map<string, Timeline[]>(VARIANTS.map((v) => [v.name, []]));
for (let run = 0; run < RUNS; run++)
  for (const variant of VARIANTS) {
    const timeline = await measure(variant.flags, run);
    results.get(variant.name)?.push(timeline);
    console.error(`run ${run + 1}, ${variant.name}: ${JSON.stringify(timeline)}`);
  }

const at = (t: Timeline, s: number): string =>
  (t.restMiB[Math.min(s, t.restMiB.length) - 1] ?? Number.NaN).toFixed(1);
const list = (xs: readonly number[]): string => (xs.length === 0 ? 'none' : `${xs.join(', ')} s`);
console.log(
  `\nnode ${process.version}; ${RUNS} runs; start rest ${START_REST_S} s, wrk -c50 for ${LOAD_S} s, rest ${REST_S} s; sidecar on core 0, ${memoryNote(memory)}\n`,
);
const marks = [5, 10, 20, REST_S].filter((s, i, all) => s <= REST_S && all.indexOf(s) === i);
console.log(
  `| | run | start rest: idle / reducer collections, CPU ms | anon MiB before load | after load | ${marks.map((s) => `+${s} s`).join(' | ')} | idle collections after load | reducer collections after load | CPU ms in the rest |`,
);
console.log(`|---|---:|---|${'---:|'.repeat(2 + marks.length)}---|---|---:|`);
for (const [name, timelines] of results)
  timelines.forEach((t, i) => {
    console.log(
      `| ${name} | ${i + 1} | ${t.atStart.own} / ${t.atStart.reducer}, ${t.startRestCpuMs.toFixed(0)} | ${t.beforeLoadMiB.toFixed(1)} | ${t.afterLoadMiB.toFixed(1)} | ${marks.map((s) => at(t, s)).join(' | ')} | ${list(t.ownAt)} | ${list(t.reducerAt)} | ${t.restCpuMs.toFixed(0)} |`,
    );
  });
process.exit(0);
