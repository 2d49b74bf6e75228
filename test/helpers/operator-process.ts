import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
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
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const waitForLine = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolveLine, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for an operator log line; stderr: ${errors.slice(-2000)}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      });
    });
  };
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
