// What a request allocates in the sidecar's JavaScript heap, and what collecting it costs: the
// built sidecar as shipped (its NODE_OPTIONS, pinned to core 0 in the injected container's memory
// limit) with V8's --trace-gc, loaded by wrk on core 1 with a signed-in request (a session cookie
// of bench/signed-in-app.ts) at each connection count, in interleaved rounds after a warm-up run
// each. Allocation is the growth of the heap between collections, summed from V8's own trace over
// the measured runs, divided by the requests answered. `--against <dist>` runs another build's
// dist/ (e.g. an earlier commit's) beside this one, interleaved, for an A/B in one run.
//
//   npm run build && taskset -c 1 node bench/alloc-per-request.ts [--connections 50,200] [--rounds 3] [--duration 5] [--against <dist>]
//
// Needs wrk (apt-get install -y wrk).
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  children,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  memoryNote,
  startUpstreamOnLoadCore,
  stopChild,
  waitFor200,
  wrkOnLoadCore,
  wrkRequests,
} from './process-measures.ts';
import { BUILT_DIST, spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50,200' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    against: { type: 'string' },
  },
});
const CONNECTIONS = values.connections.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const BUILDS = [BUILT_DIST, ...(values.against ? [values.against] : [])];

interface Run {
  readonly dist: string;
  readonly connections: number;
  readonly url: string;
  readonly cookie: string;
  readonly pid: number;
  readonly trace: string;
  /** Bytes of the trace read so far, and the heap after the last collection seen. */
  traceOffset: number;
  lastAfter: number | undefined;
  requests: number;
  ticks: number;
  allocatedMB: number;
  scavenges: number;
  fullCollections: number;
  pauseMs: number;
}

/** V8's --trace-gc lines: `<kind> <before> (<committed>) -> <after> (<committed>) MB, pooled: <n> MB, <pause> / ...`. */
const GC_LINE =
  /ms: (Scavenge|Mark-Compact|Minor Mark-Sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, pooled: [\d.]+ MB, ([\d.]+)/;

interface Collection {
  readonly kind: string;
  readonly before: number;
  readonly after: number;
  readonly pauseMs: number;
}

/** The collections the trace gained since the last call (the request lines between are skipped). */
function newCollections(r: Run): Collection[] {
  const fd = openSync(r.trace, 'r');
  const chunks: Buffer[] = [];
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (
    let n = readSync(fd, chunk, 0, chunk.length, r.traceOffset);
    n > 0;
    n = readSync(fd, chunk, 0, chunk.length, r.traceOffset)
  ) {
    chunks.push(Buffer.from(chunk.subarray(0, n)));
    r.traceOffset += n;
  }
  closeSync(fd);
  const text = Buffer.concat(chunks).toString('latin1');
  // A line cut at the end is read again next time.
  const complete = text.lastIndexOf('\n') + 1;
  r.traceOffset -= text.length - complete;
  const out: Collection[] = [];
  for (const line of text.slice(0, complete).split('\n')) {
    const m = GC_LINE.exec(line);
    if (m)
      out.push({ kind: m[1] as string, before: Number(m[2]), after: Number(m[3]), pauseMs: Number(m[4]) });
  }
  return out;
}

function wrk(r: Run): number {
  return wrkRequests(
    wrkOnLoadCore(r.url, { connections: r.connections, seconds: DURATION, headers: [`Cookie: ${r.cookie}`] }),
  );
}

const { url: upstreamUrl } = await startUpstreamOnLoadCore();
const memory = injectedMemoryGroup('alloc');
const traceDir = mkdtempSync(join(tmpdir(), 'gatehouse-alloc-'));
const runs: Run[] = [];
for (const connections of CONNECTIONS)
  for (const [i, dist] of BUILDS.entries()) {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const { dir, cookie } = await writeSignedInApp(upstreamUrl, origin, `alloc-${i}-${connections}`);
    const trace = join(traceDir, `${i}-${connections}.log`);
    const fd = openSync(trace, 'w');
    const child = spawnBuiltSidecar(dir, port, {
      dist,
      nodeArgs: ['--trace-gc'],
      stdout: fd,
      pin: { core: 0, memory },
    });
    closeSync(fd);
    children.add(child);
    const url = `${origin}/small`;
    await waitFor200(url, { cookie });
    runs.push({
      dist,
      connections,
      url,
      cookie,
      pid: child.pid as number,
      trace,
      traceOffset: 0,
      lastAfter: undefined,
      requests: 0,
      ticks: 0,
      allocatedMB: 0,
      scavenges: 0,
      fullCollections: 0,
      pauseMs: 0,
    });
  }
for (const r of runs) wrk(r); // warm-up: the hot path optimized, the young generation grown
for (let round = 0; round < ROUNDS; round++)
  for (const r of round % 2 === 0 ? runs : [...runs].reverse()) {
    for (const c of newCollections(r)) r.lastAfter = c.after; // the warm-up's and the pauses between runs
    const ticks = cpuTicks(r.pid);
    r.requests += wrk(r);
    r.ticks += cpuTicks(r.pid) - ticks;
    // Allocated between two collections: the heap before the later one minus after the earlier one.
    for (const c of newCollections(r)) {
      if (r.lastAfter !== undefined) r.allocatedMB += Math.max(0, c.before - r.lastAfter);
      r.lastAfter = c.after;
      r.pauseMs += c.pauseMs;
      if (c.kind === 'Scavenge') r.scavenges += 1;
      else r.fullCollections += 1;
    }
  }

console.log(
  `\nnode ${process.version}; ${ROUNDS} rounds of ${DURATION} s; signed-in GET; sidecars on core 0 (${memoryNote(memory)}), wrk and upstream on core 1\n`,
);
const label = (r: Run) => `${r.dist === BUILT_DIST ? 'this build' : r.dist}, ${r.connections} connections`;
const per1k = (n: number, r: Run) => ((n / r.requests) * 1000).toFixed(2);
console.log(`| per signed-in request | ${runs.map(label).join(' | ')} |`);
console.log(`|---|${runs.map(() => '---:').join('|')}|`);
console.log(
  `| KB allocated | ${runs.map((r) => ((r.allocatedMB * 1024 * 1024) / r.requests / 1000).toFixed(1)).join(' | ')} |`,
);
console.log(
  `| CPU µs, whole process | ${runs.map((r) => ((r.ticks / HZ / r.requests) * 1e6).toFixed(1)).join(' | ')} |`,
);
console.log(`| young collections per 1,000 | ${runs.map((r) => per1k(r.scavenges, r)).join(' | ')} |`);
console.log(`| full collections per 1,000 | ${runs.map((r) => per1k(r.fullCollections, r)).join(' | ')} |`);
console.log(`| collection pauses, ms per 1,000 | ${runs.map((r) => per1k(r.pauseMs, r)).join(' | ')} |`);
for (const child of children) await stopChild(child);
rmSync(traceDir, { recursive: true, force: true });
process.exit(0);
