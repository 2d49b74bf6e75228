// What the young generation's size and the policy count cost per request: sidecars that differ
// only in --max-semi-space-size (the rest of the shipped NODE_OPTIONS kept) and in how many team
// policies their signed-in application has besides its two (bench/signed-in-app.ts: none of them
// matches the measured user), loaded in turn by wrk (interleaved rounds, the order reversed every other round)
// after one warm-up run each. Prints per signed-in request: CPU of the whole process and of each
// thread (from /proc; V8's background thread does concurrent marking and compiles), and the
// count and time of each kind of collection (from the sidecar's own /metrics); then each
// sidecar's peak RSS and its anonymous memory after the runs (from /proc: what the setting costs
// in memory, which a larger young generation trades for CPU). The sidecars run
// as the injected container does: pinned to core 0, in its default memory limit; wrk and the
// upstream run on core 1.
//
//   npm run build && taskset -c 1 node bench/gc-per-request.ts [--sizes 1,2,4,8] [--policies 0] [--connections 50] [--rounds 4] [--duration 4]
//   npm run build && taskset -c 1 node bench/gc-per-request.ts --sizes 4 --policies 0,998 --rounds 8
//
// Needs wrk (apt-get install -y wrk).
import { get } from 'node:http';
import { parseArgs } from 'node:util';
import { SIDECAR_NODE_OPTIONS } from '../contract/sidecar-node-options.ts';
import {
  children,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  memoryNote,
  startUpstreamOnLoadCore,
  statusMiB,
  stopChild,
  threadTicks,
  waitFor200,
  wrkOnLoadCore,
  wrkRequests,
} from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,2,4,8' },
    policies: { type: 'string', default: '0' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '4' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`bench: --sizes: whole numbers of MiB, e.g. 1,2,4,8 (got ${values.sizes})`);
  process.exit(2);
}
const TEAMS = values.policies.split(',').map(Number);
if (TEAMS.some((n) => !Number.isInteger(n) || n < 0)) {
  console.error(
    `bench: --policies: counts of team policies besides the two, e.g. 0,998 (got ${values.policies})`,
  );
  process.exit(2);
}
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const GC_KINDS = ['minor', 'major', 'incremental'] as const;

interface Sidecar {
  readonly size: number;
  readonly teams: number;
  readonly origin: string;
  readonly cookie: string;
  readonly admin: number;
  readonly pid: number;
  requests: number;
  ticks: number;
  readonly threads: Map<string, number>;
  gcBefore: Map<string, number>;
}

function wrk(s: Sidecar): number {
  return wrkRequests(
    wrkOnLoadCore(`${s.origin}/small`, {
      connections: CONNECTIONS,
      seconds: DURATION,
      headers: [`Cookie: ${s.cookie}`],
    }),
  );
}

/**
 * gatehouse_process_nodejs_gc_duration_seconds sum and count by kind, from the sidecar's /metrics,
 * on a new connection each time: wrk runs synchronously, so a kept-alive one would have been
 * closed by the server while this process could not notice.
 */
async function gcTotals(s: Sidecar): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port: s.admin, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const totals = new Map<string, number>();
  for (const m of text.matchAll(/gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)/g))
    totals.set(`${m[2]} ${m[1]}`, Number(m[3]));
  return totals;
}

const { url: upstreamUrl } = await startUpstreamOnLoadCore();
const memory = injectedMemoryGroup();
const sidecars: Sidecar[] = [];
for (const [size, teams] of SIZES.flatMap((size) => TEAMS.map((teams) => [size, teams] as const))) {
  const port = await freePort();
  const admin = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, `gc-${size}-${teams}`, teams);
  const nodeOptions = SIDECAR_NODE_OPTIONS.replace(
    /--max-semi-space-size=\d+/,
    `--max-semi-space-size=${size}`,
  );
  const child = spawnBuiltSidecar(dir, port, { nodeOptions, adminPort: admin, pin: { core: 0, memory } });
  children.add(child);
  await waitFor200(`${origin}/public/small`);
  sidecars.push({
    size,
    teams,
    origin,
    cookie,
    admin,
    pid: child.pid as number,
    requests: 0,
    ticks: 0,
    threads: new Map(),
    gcBefore: new Map(),
  });
}
for (const s of sidecars) {
  wrk(s); // warm-up: the hot path optimized, the young generation grown
  s.gcBefore = await gcTotals(s);
}
for (let round = 0; round < ROUNDS; round++)
  for (const s of round % 2 === 0 ? sidecars : [...sidecars].reverse()) {
    const ticks = cpuTicks(s.pid);
    const threads = threadTicks(s.pid);
    s.requests += wrk(s);
    s.ticks += cpuTicks(s.pid) - ticks;
    for (const [name, t] of threadTicks(s.pid))
      s.threads.set(name, (s.threads.get(name) ?? 0) + t - (threads.get(name) ?? 0));
  }

const perRequestUs = (ticks: number, s: Sidecar) => ((ticks / HZ / s.requests) * 1e6).toFixed(1);
console.log(
  `\nnode ${process.version}; ${ROUNDS} rounds of ${DURATION} s at ${CONNECTIONS} connections each; sidecars on core 0 (${memoryNote(memory)}), wrk and upstream on core 1\n`,
);
const label = (s: Sidecar) =>
  `--max-semi-space-size=${s.size}${TEAMS.length > 1 ? `, ${2 + s.teams} policies` : ''}`;
console.log(`| per signed-in request | ${sidecars.map(label).join(' | ')} |`);
console.log(`|---|${sidecars.map(() => '---:').join('|')}|`);
console.log(`| CPU µs, whole process | ${sidecars.map((s) => perRequestUs(s.ticks, s)).join(' | ')} |`);
const threadNames = [
  ...new Set(sidecars.flatMap((s) => [...s.threads].filter(([, t]) => t > 0).map(([n]) => n))),
];
for (const name of threadNames)
  console.log(
    `| CPU µs, thread ${name} | ${sidecars.map((s) => perRequestUs(s.threads.get(name) ?? 0, s)).join(' | ')} |`,
  );
const gcAfter = await Promise.all(sidecars.map(gcTotals));
for (const kind of GC_KINDS) {
  const delta = (i: number, what: string) => {
    const s = sidecars[i] as Sidecar;
    return (
      ((gcAfter[i]?.get(`${kind} ${what}`) ?? 0) - (s.gcBefore.get(`${kind} ${what}`) ?? 0)) / s.requests
    );
  };
  console.log(
    `| ${kind} collections per 1,000 | ${sidecars.map((_, i) => (delta(i, 'count') * 1000).toFixed(2)).join(' | ')} |`,
  );
  console.log(
    `| ${kind} collection µs | ${sidecars.map((_, i) => (delta(i, 'sum') * 1e6).toFixed(1)).join(' | ')} |`,
  );
}
console.log(`| peak RSS, MiB | ${sidecars.map((s) => statusMiB(s.pid, 'VmHWM').toFixed(1)).join(' | ')} |`);
console.log(
  `| anonymous memory after the runs, MiB | ${sidecars.map((s) => statusMiB(s.pid, 'RssAnon').toFixed(1)).join(' | ')} |`,
);
for (const child of children) await stopChild(child);
process.exit(0);
