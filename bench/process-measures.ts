// What the process benchmarks share: ports, waiting for a first 200, CPU ticks and memory of a
// process from /proc, and killing what they started when they exit.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_INJECTION } from '../operator/src/injection/injection-settings.ts';
import './bench-tmpdir.ts';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
export const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** Processes to kill when the benchmark exits, however it exits. */
export const children = new Set<ChildProcess>();
// Before the temporary directory is removed (bench-tmpdir.ts): nothing of theirs writes to it.
process.prependListener('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Polls every 2 ms until the URL answers 200. */
export async function waitFor200(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { headers, redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** utime + stime from the text of a /proc stat file, in clock ticks (the name may hold spaces and parentheses). */
function statTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * CPU time of a process's live threads, in nanoseconds (/proc/<pid>/task/<tid>/schedstat: exact,
 * where clock ticks count 10 ms at a time). For a process at rest, whose threads stay.
 */
export function cpuNanos(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`))
    total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  return total;
}

/** utime + stime of a process's threads, in clock ticks, summed by thread name. */
export function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    ticks.set(name, (ticks.get(name) ?? 0) + statTicks(stat));
  }
  return ticks;
}

/** A `Key:  123 kB` field of a /proc/<pid> file, in MiB. */
function procFieldMiB(pid: number, file: string, key: string): number {
  const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) / 1024;
}

/** A /proc/<pid>/status memory field (VmRSS, VmHWM, RssAnon...), in MiB. */
export function statusMiB(pid: number, key: string): number {
  return procFieldMiB(pid, 'status', key);
}

/** A /proc/<pid>/smaps_rollup field (Rss, Pss, Anonymous...), in MiB. */
export function smapsRollupMiB(pid: number, key: string): number {
  return procFieldMiB(pid, 'smaps_rollup', key);
}

/** bench/upstream-server.ts on core 1 (with the load generator), once it answers; its port and URL. */
export async function startUpstreamOnLoadCore(): Promise<{ port: number; url: string }> {
  const port = await freePort();
  const upstream = spawn(
    'taskset',
    ['-c', '1', process.execPath, join(import.meta.dirname, 'upstream-server.ts'), String(port)],
    { stdio: 'ignore' },
  );
  children.add(upstream);
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/small`);
  return { port, url };
}

/** The injected sidecar container's default memory limit, in bytes (`sidecar.resources`). */
const INJECTED_MEMORY_LIMIT_BYTES = quantityBytes(DEFAULT_INJECTION.resources.limits.memory);

/** A Kubernetes memory quantity with a binary suffix (`512Mi`) in bytes. */
function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`bench: unexpected memory quantity ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as 'Ki' | 'Mi' | 'Gi'];
  return Number(match[1]) * unit;
}

/**
 * A memory cgroup with a container's limit, for the measured processes: V8 sizes its heap from
 * the memory a process may use, so a Node.js process measured on a large host without a limit
 * collects less often than the same process in its container. cgroup v2 where its memory
 * controller is on, else cgroup v1's memory hierarchy; needs root. `run` wraps a command so that
 * it joins the group before it starts (the pid stays the command's own). An error says why
 * there is none.
 */
export type MemoryGroup =
  | {
      readonly limitBytes: number;
      run(command: string, args: readonly string[]): [string, string[]];
      /** What the group is charged for now: anonymous memory and page cache, in MiB. */
      charged(): GroupCharge;
    }
  | { readonly error: string };

/** A memory cgroup's charge, in MiB: anonymous memory, file pages (page cache), and the working set. */
export interface GroupCharge {
  readonly anonMiB: number;
  readonly fileMiB: number;
  /** Usage less inactive file pages: what the kubelet counts against a container (cAdvisor's working set). */
  readonly workingSetMiB: number;
}

/** A cgroup's charge from its memory.stat and its usage in bytes (cgroup v2's or v1's field names). */
function groupCharge(statText: string, usageBytes: number, v2: boolean): GroupCharge {
  const field = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(statText)?.[1] ?? Number.NaN);
  const inactiveFile = field(v2 ? 'inactive_file' : 'total_inactive_file');
  return {
    anonMiB: field(v2 ? 'anon' : 'rss') / 2 ** 20,
    fileMiB: field(v2 ? 'file' : 'cache') / 2 ** 20,
    workingSetMiB: Math.max(0, usageBytes - inactiveFile) / 2 ** 20,
  };
}

function memoryGroup(limitBytes: number, label = ''): MemoryGroup {
  const name = `gatehouse-bench-${process.pid}${label === '' ? '' : `-${label}`}`;
  const v2 = '/sys/fs/cgroup';
  const v1 = '/sys/fs/cgroup/memory';
  let dir: string;
  try {
    if (
      existsSync(join(v2, 'cgroup.controllers')) &&
      readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')
    ) {
      dir = join(v2, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
    } else if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
      dir = join(v1, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    } else {
      return { error: 'no cgroup memory controller on this machine' };
    }
  } catch (error) {
    return { error: `cannot make a memory cgroup: ${(error as Error).message}` };
  }
  process.on('exit', () => {
    try {
      rmdirSync(dir);
    } catch {
      // processes killed at exit may not have left it yet; the name is unique per run
    }
  });
  const procs = join(dir, 'cgroup.procs');
  const isV2 = !dir.startsWith(v1);
  return {
    limitBytes,
    run: (command, args) => ['sh', ['-c', `echo $$ > ${procs} && exec "$0" "$@"`, command, ...args]],
    charged: () =>
      groupCharge(
        readFileSync(join(dir, 'memory.stat'), 'utf8'),
        Number(readFileSync(join(dir, isV2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8')),
        isV2,
      ),
  };
}

/**
 * A memory group with the injected sidecar container's default limit, as a pod's container has
 * it: V8 sizes its heap from it (259 MB in 512 MiB, against 4 GB on a large host without one), so
 * a Node.js process measured without it collects later and peaks higher than in any pod.
 */
export function injectedMemoryGroup(label = ''): MemoryGroup {
  return memoryGroup(INJECTED_MEMORY_LIMIT_BYTES, label);
}

/** A command pinned to one core (taskset) and, when there is one, in the memory group. */
export function pinned(
  memory: MemoryGroup,
  core: number,
  command: string,
  args: readonly string[],
): [string, string[]] {
  const onCore: [string, string[]] = ['taskset', ['-c', String(core), command, ...args]];
  return 'error' in memory ? onCore : memory.run(...onCore);
}

/** The memory condition of a run, for a benchmark's table header. */
export function memoryNote(memory: MemoryGroup): string {
  return 'error' in memory
    ? `no memory limit (${memory.error})`
    : `limited to ${memory.limitBytes / 2 ** 20} MiB, the injected sidecar's default`;
}

/** Stops a started process: SIGTERM, SIGKILL after 3 s; forgets it. */
export async function stopChild(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      r(undefined);
    }, 3000);
    child.once('exit', () => {
      clearTimeout(t);
      r(undefined);
    });
  });
}

/** Latencies (ms) and status codes of vegeta at a constant rate, run on core 1 (the load core). */
export function constantRateAttack(
  vegeta: string,
  target: string,
  rate: number,
  seconds: number,
): { p50: number; p99: number; max: number; codes: Record<string, number> } {
  const attack = execFileSync(
    'taskset',
    ['-c', '1', vegeta, 'attack', `-rate=${rate}`, `-duration=${seconds}s`, '-keepalive=true'],
    { input: target, maxBuffer: 512 * 1024 * 1024 },
  );
  const report = JSON.parse(
    execFileSync(vegeta, ['report', '-type=json'], { input: attack, encoding: 'utf8' }),
  ) as { latencies: Record<string, number>; status_codes: Record<string, number> };
  const ms = (key: string): number => (report.latencies[key] ?? Number.NaN) / 1e6;
  return { p50: ms('50th'), p99: ms('99th'), max: ms('max'), codes: report.status_codes };
}

/** The directory of oauth2-proxy and vegeta, built once from their Go modules (scripts/bench-tools.sh). */
export function benchTools(): string {
  return execFileSync('bash', [join(import.meta.dirname, '../scripts/bench-tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/**
 * wrk on the load core (core 1), one thread, for a number of seconds; throws when any answer was
 * not 2xx or 3xx. Returns its report.
 */
export function wrkOnLoadCore(
  url: string,
  options: { connections: number; seconds: number; headers?: readonly string[]; latency?: boolean },
): string {
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      'wrk',
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      ...(options.latency ? ['--latency'] : []),
      ...(options.headers ?? []).flatMap((h) => ['-H', h]),
      url,
    ],
    { encoding: 'utf8' },
  );
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (bad) throw new Error(`${url}: ${bad[1]} responses were not 2xx`);
  return out;
}

/** The request count of a wrk report. */
export function wrkRequests(report: string): number {
  return Number(/(\d+) requests in/.exec(report)?.[1]);
}

/** CPU µs a process spends per request answered in a run of wrkOnLoadCore against it (from /proc). */
export function wrkCpuUsPerRequest(
  pid: number,
  url: string,
  options: { connections: number; seconds: number; headers?: readonly string[] },
): number {
  const before = cpuTicks(pid);
  const requests = wrkRequests(wrkOnLoadCore(url, options));
  return ((cpuTicks(pid) - before) / HZ / requests) * 1e6;
}

/** A command run to its end under /usr/bin/time: wall seconds, peak RSS in MiB, its status and output. */
export function timedCommand(
  command: string,
  args: readonly string[],
): { seconds: number; rssMiB: number; status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', command, ...args], {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  const [seconds, kib] = (result.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return {
    seconds: seconds ?? Number.NaN,
    rssMiB: (kib ?? Number.NaN) / 1024,
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}
