import { type ChildProcess, spawn } from 'node:child_process';
import { readJsonLines } from './json-lines.ts';
import { GATEHOUSE_BIN } from './sidecar-process.ts';

/** A `gatehouse operator` child process whose JSON log lines the test reads. */
export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly deliveryPort: number;
  readonly adminPort: number;
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code once it has shut down. */
  stop(): Promise<number | null>;
}

/** Starts the built `gatehouse operator` with the given flags and environment. */
export async function startOperatorProcess(
  args: string[],
  env: Record<string, string>,
): Promise<OperatorProcess> {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'operator', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-20_000);
  });
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const { lines, waitForLine } = readJsonLines(
    child.stdout as NonNullable<typeof child.stdout>,
    () => `; stderr: ${errors.slice(-2000)}`,
  );
  const started = await Promise.race([
    waitForLine((l) => l.type === 'operator_started'),
    closed.then((code) => {
      throw new Error(`operator exited early with ${code}: ${errors}`);
    }),
  ]);
  return {
    child,
    deliveryPort: Number(started.deliveryPort),
    adminPort: Number(started.adminPort),
    lines,
    stderr: () => errors,
    waitForLine,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return closed;
    },
  };
}
