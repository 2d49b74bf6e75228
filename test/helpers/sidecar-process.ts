import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SIDECAR_NODE_ENV } from '../../contract/sidecar-node-options.ts';
import { assertLogLinesMatchSchema } from './log-line-check.ts';
import { type LoggingProcess, startLoggingProcess } from './logging-process.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/**
 * A copy of what the image holds of the build, as it lays it out: dist/ and package.json side by
 * side, no node_modules anywhere above. Answers the directory (the image's /app).
 */
export function copyShippedApp(): string {
  const app = mkdtempSync(join(tmpdir(), 'gatehouse-shipped-'));
  cpSync(join(REPO_ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
  return app;
}
/** The built entry point, as shipped (test/global-setup.ts builds it once per run). */
export const GATEHOUSE_BIN = join(REPO_ROOT, 'dist/bin/gatehouse.js');
/** How the sidecar process is started in production: the built entry point... */
export const SIDECAR_COMMAND: readonly string[] = [GATEHOUSE_BIN];
/** ...with the environment the image and the injected container give it (NODE_OPTIONS). */
export const SIDECAR_ENV: NodeJS.ProcessEnv = { ...process.env, ...SIDECAR_NODE_ENV };

/**
 * Test sidecars stop accepting at SIGTERM (no delay), as hundreds of them stop in a run; a test of
 * the delay gives its own --shutdown-delay after these (the last one given counts).
 */
export const TEST_SHUTDOWN_DELAY: readonly string[] = ['--shutdown-delay', '0s'];

/** `node` arguments for the built sidecar serving a config directory on loopback (admin port ephemeral). */
export function sidecarArgv(
  configDir: string,
  listen = '127.0.0.1:0',
  extra: readonly string[] = [],
): string[] {
  return [
    ...SIDECAR_COMMAND,
    'sidecar',
    '--config',
    configDir,
    '--listen',
    listen,
    '--admin-listen',
    '127.0.0.1:0',
    ...TEST_SHUTDOWN_DELAY,
    ...extra,
  ];
}

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

/** A config directory with one open application on 127.0.0.1 in front of `upstreamUrl`. */
export function loopbackAppDir(upstreamUrl: string): string {
  return writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: upstreamUrl } }));
}

/** Runs `gatehouse <args>` to completion (with `stdin` as its input, if given) and returns its exit code and output. */
/** What a finished command wrote and how it ended. */
export interface CommandOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything a child process writes to stdout and stderr, once it has ended. */
export function outputOf(child: ChildProcess): Promise<CommandOutput> {
  return new Promise((resolvePromise) => {
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

export function runGatehouse(
  args: string[],
  stdin?: string,
  /** Node.js options before the script (e.g. a heap limit). */
  nodeArgs: readonly string[] = [],
  /** More environment (e.g. HTTPS_PROXY). */
  env: NodeJS.ProcessEnv = {},
): Promise<CommandOutput> {
  const child = spawn(process.execPath, [...nodeArgs, ...SIDECAR_COMMAND, ...args], {
    env: { ...SIDECAR_ENV, ...env },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  // A command may stop reading before the end (more than it takes): the rest is not its to read.
  child.stdin?.on('error', () => undefined);
  if (stdin !== undefined) child.stdin?.end(stdin);
  return outputOf(child);
}

/** A sidecar child process whose stdout lines the test reads as they arrive. */
export interface SidecarProcess extends LoggingProcess {
  readonly port: number;
  readonly adminPort: number;
}

/**
 * Starts `gatehouse sidecar` on ephemeral loopback ports, reading stdout line by line; `command`
 * is the node arguments before `sidecar` (the built entry point unless a test runs another copy).
 */
export async function startSidecarProcess(
  configDir: string | { readonly sourceArgs: string[] },
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  command: readonly string[] = SIDECAR_COMMAND,
  launcher: readonly string[] = [],
): Promise<SidecarProcess> {
  const sourceArgs =
    typeof configDir === 'string'
      ? ['--config', configDir, '--poll-interval', '200ms']
      : configDir.sourceArgs;
  const proc = await startLoggingProcess({
    name: 'sidecar',
    argv: [
      ...command,
      'sidecar',
      ...sourceArgs,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      ...TEST_SHUTDOWN_DELAY,
      ...extraArgs,
    ],
    startedType: 'sidecar_started',
    env: { ...SIDECAR_NODE_ENV, ...env },
    launcher,
  });
  return {
    ...proc,
    async stop() {
      const code = await proc.stop();
      assertLogLinesMatchSchema(proc.lines);
      return code;
    },
    port: Number(String(proc.started.listen).split(':').pop()),
    adminPort: Number(String(proc.started.adminListen).split(':').pop()),
  };
}

/** Peak resident set size (VmHWM) of a process, in bytes, from /proc. */
export async function peakRssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

/**
 * A process's anonymous resident memory (RssAnon: heap, buffers, everything the process
 * allocates, without the file-backed pages of the Node.js binary, whose count follows the page
 * cache), in bytes, from /proc.
 */
export function anonymousRssBytes(pid: number): number {
  const kb = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}

/**
 * Samples a process's anonymous resident memory (anonymousRssBytes) every `everyMs` until
 * stopped; resolves with the highest sample, in bytes.
 */
export function sampleAnonymousRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = 0;
  const read = (): void => {
    try {
      peak = Math.max(peak, anonymousRssBytes(pid));
    } catch {
      // the process is gone: keep the peak so far
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}
