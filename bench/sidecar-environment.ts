// What one setting in the sidecar's environment changes (a glibc malloc variable, say), against
// the environment as shipped: built sidecars started in turn, one as shipped and one with
// --set NAME=VALUE (with --set NAME= the variable is removed instead), in interleaved rounds (the
// order reversed every other round). Each starts in the injected form (its config from a stand-in
// operator over HTTPS, pinned to core 0 in the injected container's memory limit; wrk and the
// upstream on core 1) and is measured: anonymous memory at rest 1 s after its first answer; CPU
// per signed-in request at 50 connections (after a warm-up run), per signed-in 1 MiB response at
// 8 connections and per signed-in request at 200 connections (CPU from /proc); its peak RSS after
// the 1 MiB responses and after everything; its anonymous memory after everything. Prints the
// medians of each side.
//
// --policies N gives the signed-in application N team policies besides its two (none matches the
// measured user).
//
//   npm run build && taskset -c 1 node bench/sidecar-environment.ts --set MALLOC_MMAP_THRESHOLD_=32768 [--rounds 4] [--duration 5] [--policies 0]
//
// Needs wrk (apt-get install -y wrk).
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
import { imageCompileCache, spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';
import { standInOperator } from './stand-in-operator.ts';

const { values } = parseArgs({
  options: {
    set: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    policies: { type: 'string', default: '0' },
  },
});
const setting = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(values.set ?? '');
if (!setting) {
  console.error('bench: --set NAME=VALUE: the variable to try (NAME= to remove it)');
  process.exit(2);
}
const NAME = setting[1] as string;
const VALUE = setting[2] === '' ? undefined : setting[2];
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const TEAMS = Number(values.policies);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || !(DURATION > 0) || !Number.isInteger(TEAMS) || TEAMS < 0) {
  console.error(
    'bench: --rounds: a whole number of at least 1; --duration: seconds per run; --policies: team policies, 0 or more',
  );
  process.exit(2);
}

const COLUMNS = [
  ['anonymous memory at rest, MiB', 1],
  ['CPU µs per signed-in request, 50 connections', 1],
  ['CPU µs per signed-in 1 MiB response, 8 connections', 0],
  ['peak RSS after the 1 MiB responses, MiB', 1],
  ['CPU µs per signed-in request, 200 connections', 1],
  ['peak RSS after everything, MiB', 1],
  ['anonymous memory after everything, MiB', 1],
] as const;
type Side = 'shipped' | 'tried';

const memory = injectedMemoryGroup();
const { url: upstreamUrl } = await startUpstreamOnLoadCore();
imageCompileCache();

async function measure(side: Side): Promise<number[]> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, 'bench', TEAMS);
  const operator = await standInOperator(dir);
  const child = spawnBuiltSidecar(dir, port, {
    configFlags: operator.flags,
    pin: { core: 0, memory },
    env: side === 'tried' ? { [NAME]: VALUE } : {},
  });
  children.add(child);
  await waitFor200(`${origin}/public/small`);
  await new Promise((r) => setTimeout(r, 1000));
  const pid = child.pid as number;
  const atRest = statusMiB(pid, 'RssAnon');
  const cpuPerRequest = (path: string, connections: number): number =>
    wrkCpuUsPerRequest(pid, `${origin}${path}`, {
      connections,
      seconds: DURATION,
      headers: [`Cookie: ${cookie}`],
    });
  cpuPerRequest('/small', 50); // warm-up
  const small = cpuPerRequest('/small', 50);
  const large = cpuPerRequest('/1m', 8);
  const peakLarge = statusMiB(pid, 'VmHWM');
  const many = cpuPerRequest('/small', 200);
  const row = [atRest, small, large, peakLarge, many, statusMiB(pid, 'VmHWM'), statusMiB(pid, 'RssAnon')];
  await stopChild(child);
  await operator.close();
  return row;
}

const rows: Record<Side, number[][]> = { shipped: [], tried: [] };
for (let round = 0; round < ROUNDS; round++)
  for (const side of (round % 2 === 0 ? ['shipped', 'tried'] : ['tried', 'shipped']) as Side[]) {
    const row = await measure(side);
    rows[side].push(row);
    console.error(`round ${round + 1}, ${side}: ${row.map((x) => x.toFixed(1)).join(', ')}`);
  }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const tried = VALUE === undefined ? `without ${NAME}` : `${NAME}=${VALUE}`;
console.log(
  `\nnode ${process.version}; ${2 + TEAMS} policies; medians of ${ROUNDS} interleaved rounds of ${DURATION} s runs; sidecars on core 0 (${memoryNote(memory)}), wrk and upstream on core 1\n`,
);
console.log(`| | as shipped | ${tried} |`);
console.log('|---|---:|---:|');
COLUMNS.forEach(([label, digits], i) => {
  const cell = (side: Side) => median(rows[side].map((r) => r[i] as number)).toFixed(digits);
  console.log(`| ${label} | ${cell('shipped')} | ${cell('tried')} |`);
});
process.exit(0);
