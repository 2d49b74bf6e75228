import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SIDECAR_NODE_FLAGS } from '../../sidecar/src/node-options.ts';
import { readJsonLines } from './json-lines.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The built entry point, as shipped (test/global-setup.ts builds it once per run). */
export const GATEHOUSE_BIN = join(REPO_ROOT, 'dist/bin/gatehouse.js');
/** How the sidecar process is started in production: Node flags, then the built entry point. */
export const SIDECAR_COMMAND: readonly string[] = [...SIDECAR_NODE_FLAGS, GATEHOUSE_BIN];

/**
 * YAML for one AccessApplication, with the spec given as a JSON-compatible object (YAML is a
 * superset). Without `policies` in the spec, it uses an `open` bypass policy, written alongside.
 */
export function applicationYaml(spec: Record<string, unknown>, name = 'proc-app'): string {
  const open = spec.policies === undefined;
  const full = open ? { ...spec, policies: [{ name: 'open' }] } : spec;
  const app = `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata:\n  name: ${name}\nspec: ${JSON.stringify(full)}\n`;
  return open
    ? `${app}---\n${policyYaml('open', { decision: 'bypass', include: [{ everyone: true }] })}`
    : app;
}

/** YAML for one AccessPolicy. */
export function policyYaml(name: string, spec: Record<string, unknown>): string {
  return `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: ${name}\nspec: ${JSON.stringify(spec)}\n`;
}

/** Writes a config directory with app.yaml and returns its path. */
export function writeConfigDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  writeFileSync(join(dir, 'app.yaml'), yaml);
  return dir;
}

/** Runs `gatehouse <args>` to completion (with `stdin` as its input, if given) and returns its exit code and output. */
export function runGatehouse(
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...SIDECAR_COMMAND, ...args], {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c) => {
      stdout += c;
    });
    child.stderr?.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** A sidecar child process whose stdout lines the test reads as they arrive. */
export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly lines: Record<string, unknown>[];
  /** Waits for a line matching the predicate (searching lines already seen too). */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends SIGTERM and resolves with the exit code once stdout is fully read. */
  stop(): Promise<number | null>;
}

/** Starts `gatehouse sidecar` on ephemeral loopback ports, reading stdout line by line. */
export async function startSidecarProcess(
  configDir: string | { readonly sourceArgs: string[] },
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<SidecarProcess> {
  const sourceArgs =
    typeof configDir === 'string'
      ? ['--config', configDir, '--poll-interval', '200ms']
      : configDir.sourceArgs;
  const child = spawn(
    process.execPath,
    [
      ...SIDECAR_COMMAND,
      'sidecar',
      ...sourceArgs,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const { lines, waitForLine } = readJsonLines(child.stdout as NonNullable<typeof child.stdout>);
  const started = await Promise.race([
    waitForLine((l) => l.type === 'sidecar_started'),
    closed.then((code) => {
      throw new Error(`sidecar exited early with ${code}`);
    }),
  ]);
  const port = Number(String(started.listen).split(':').pop());
  const adminPort = Number(String(started.adminListen).split(':').pop());
  return {
    child,
    port,
    adminPort,
    lines,
    waitForLine,
    stop: () => {
      child.kill('SIGTERM');
      return closed;
    },
  };
}

/** Peak resident set size (VmHWM) of a process, in bytes, from /proc. */
export async function peakRssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}
