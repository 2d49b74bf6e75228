// What a node pays for each further sidecar. Sidecars of one image on one node run the same
// Node.js binary from the same image layer, so the kernel keeps one copy of its code pages in
// the page cache for all of them: a sidecar's RSS counts those pages in every process, but the
// node holds them once, and the memory cgroup charges them to the container that read them
// first. This program starts --sidecars built sidecars as shipped (dist/, the image's
// NODE_OPTIONS, environment and compile cache), one after the other, each in a memory cgroup of
// its own with the injected container's limit, as pods' containers are. They run a copy of this
// process's Node.js binary that is not in the page cache yet (the first sidecar reads it, as the
// first pod on a node does). With all of them at rest, and again after each has served a load
// (each time one second later, and again once a quiet sidecar has given memory back: 16 s
// later at rest, 60 s after the loads, as it does so at most once a minute), it prints for each
// sidecar its RSS, its proportional share (PSS: a shared page divided among the processes that
// map it), its anonymous memory, what its cgroup is charged for, and the
// cgroup's working set (usage less inactive file pages, what the kubelet counts against a
// container's request when it ranks pods for eviction). Each
// sidecar gets its config as the injected one does, from the operator's stream over HTTPS (a
// stand-in operator per sidecar in this process; `--config file` reads a file instead).
//
//   npm run build && node bench/pods-per-node.ts [--sidecars 6] [--load 3] [--config operator|file]
//
// Linux only; needs root (cgroups, and a binary copy dropped from the page cache) and wrk.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  children,
  freePort,
  type GroupCharge,
  injectedMemoryGroup,
  smapsRollupMiB,
  startUpstreamOnLoadCore,
  stopChild,
  waitFor200,
  wrkOnLoadCore,
  wrkRequests,
} from './process-measures.ts';
import {
  COLLECTED_AGAIN_SECONDS,
  imageCompileCache,
  RESTED_SECONDS,
  spawnBuiltSidecar,
} from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';
import { type StandInOperator, standInOperator } from './stand-in-operator.ts';

const { values } = parseArgs({
  options: {
    sidecars: { type: 'string', default: '6' },
    load: { type: 'string', default: '3' },
    config: { type: 'string', default: 'operator' },
  },
});
if (values.config !== 'operator' && values.config !== 'file') {
  console.error(`bench: --config: ${values.config}; known: operator, file`);
  process.exit(2);
}
const FROM_OPERATOR = values.config === 'operator';
const SIDECARS = Number(values.sidecars);
const LOAD_SECONDS = Number(values.load);
if (!Number.isInteger(SIDECARS) || SIDECARS < 2) {
  console.error('bench: --sidecars: give a whole number of at least 2');
  process.exit(2);
}
if (!(LOAD_SECONDS >= 0)) {
  console.error('bench: --load: give seconds of load per sidecar (0 for none)');
  process.exit(2);
}

/** A copy of this process's Node.js binary whose pages are not in the page cache. */
function uncachedNodeBinary(): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'gatehouse-pods-node-')), 'node');
  copyFileSync(process.execPath, copy);
  execFileSync('chmod', ['+x', copy]);
  execFileSync('sync', [copy]);
  // GNU dd: iflag=nocache with count=0 asks the kernel to drop the whole file's cached pages.
  execFileSync('dd', [`if=${copy}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
  return copy;
}

interface Reading {
  rss: number;
  pss: number;
  anonymous: number;
  charge: GroupCharge;
}

const { url: upstreamUrl } = await startUpstreamOnLoadCore();
imageCompileCache(); // made once, before any sidecar starts
const node = uncachedNodeBinary();
const started: { child: ChildProcess; origin: string; cookie: string; charged: () => GroupCharge }[] = [];
const operators: StandInOperator[] = [];
for (let i = 0; i < SIDECARS; i++) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, `pod-${i}`);
  const memory = injectedMemoryGroup(`pod-${i}`);
  if ('error' in memory) {
    console.error(`bench: a memory cgroup per sidecar is needed: ${memory.error}`);
    process.exit(1);
  }
  const operator = FROM_OPERATOR ? await standInOperator(dir) : undefined;
  if (operator) operators.push(operator);
  const child = spawnBuiltSidecar(dir, port, {
    configFlags: operator?.flags,
    pin: { core: 0, memory },
    node,
  });
  children.add(child);
  await waitFor200(`${origin}/public/small`);
  started.push({ child, origin, cookie, charged: memory.charged });
}
await new Promise((r) => setTimeout(r, 1000));

const read = (): Reading[] =>
  started.map(({ child, charged }) => {
    const pid = child.pid as number;
    return {
      rss: smapsRollupMiB(pid, 'Rss'),
      pss: smapsRollupMiB(pid, 'Pss'),
      anonymous: smapsRollupMiB(pid, 'Anonymous'),
      charge: charged(),
    };
  });
const atRest = read();
// Quiet for longer: a sidecar gives memory back once no request has started for 10 s.
await new Promise((r) => setTimeout(r, (RESTED_SECONDS - 1) * 1000));
const rested = read();
for (const s of started)
  if (LOAD_SECONDS > 0)
    wrkRequests(
      wrkOnLoadCore(`${s.origin}/small`, {
        connections: 50,
        seconds: LOAD_SECONDS,
        headers: [`Cookie: ${s.cookie}`],
      }),
    );
await new Promise((r) => setTimeout(r, 1000));
const afterLoad = read();
await new Promise((r) => setTimeout(r, (COLLECTED_AGAIN_SECONDS - 1) * 1000));
const restedAfterLoad = read();

const f = (x: number) => x.toFixed(1);
const table = (title: string, readings: Reading[]) => {
  console.log(`\n${title}\n`);
  console.log(
    '| sidecar | RSS, MiB | PSS, MiB | anonymous, MiB | cgroup charge: anonymous, MiB | cgroup charge: page cache, MiB | cgroup working set, MiB |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [i, r] of readings.entries())
    console.log(
      `| ${i + 1}${i === 0 ? ' (first on the node)' : ''} | ${f(r.rss)} | ${f(r.pss)} | ${f(r.anonymous)} | ${f(r.charge.anonMiB)} | ${f(r.charge.fileMiB)} | ${f(r.charge.workingSetMiB)} |`,
    );
  const further = readings.slice(1);
  const mean = (pick: (r: Reading) => number) =>
    further.reduce((sum, r) => sum + pick(r), 0) / further.length;
  console.log(
    `| each further one, mean | ${f(mean((r) => r.rss))} | ${f(mean((r) => r.pss))} | ${f(mean((r) => r.anonymous))} | ${f(mean((r) => r.charge.anonMiB))} | ${f(mean((r) => r.charge.fileMiB))} | ${f(mean((r) => r.charge.workingSetMiB))} |`,
  );
  const charged = (r: Reading) => r.charge.anonMiB + r.charge.fileMiB;
  const total = readings.reduce((sum, r) => sum + charged(r), 0);
  console.log(
    `\nCharged to the ${readings.length} cgroups together: ${f(total)} MiB; the first ${f(charged(readings[0] as Reading))}, each further one ${f(mean(charged))} on average. Working set: the first ${f((readings[0] as Reading).charge.workingSetMiB)}, each further one ${f(mean((r) => r.charge.workingSetMiB))}.`,
  );
};
console.log(
  `node ${process.version}; ${SIDECARS} sidecars as shipped (config ${FROM_OPERATOR ? "from the operator's stream, as injected" : 'from a file'}), each in its own memory cgroup (the injected container's limit), on core 0; wrk and the upstream on core 1`,
);
table('At rest (one second after the last one answered its first request):', atRest);
table(`At rest, ${RESTED_SECONDS} s after the last one answered its first request:`, rested);
if (LOAD_SECONDS > 0) {
  table(`After ${LOAD_SECONDS} s of wrk -c50 (signed in) each, one second later:`, afterLoad);
  table(`${COLLECTED_AGAIN_SECONDS} s after the last load:`, restedAfterLoad);
}
for (const { child } of started) await stopChild(child);
for (const operator of operators) await operator.close();
process.exit(0);
