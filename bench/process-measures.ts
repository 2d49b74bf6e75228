// What the process benchmarks share: ports, waiting for a first 200, CPU ticks and memory of a
// process from /proc, and killing what they started when they exit.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
export const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** Processes to kill when the benchmark exits, however it exits. */
export const children = new Set<ChildProcess>();
process.on('exit', () => {
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

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

/** A /proc/<pid>/status memory field (VmRSS, VmHWM, RssAnon...), in MiB. */
export function statusMiB(pid: number, key: string): number {
  return (
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
  );
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
