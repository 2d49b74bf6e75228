import { type ChildProcess, spawn } from 'node:child_process';
import { type JsonLine, readJsonLines } from './json-lines.ts';

/** How much of a process's stderr is kept (its tail): enough for Node's debug output of a start. */
const STDERR_KEPT = 200_000;

/** A Gatehouse child process (sidecar or operator) whose JSON log lines the test reads as they arrive. */
export interface LoggingProcess {
  readonly child: ChildProcess;
  readonly lines: JsonLine[];
  /** The line that said it had started. */
  readonly started: JsonLine;
  /** The last STDERR_KEPT characters of its standard error. */
  readonly stderr: () => string;
  /** Waits for a line matching the predicate (searching lines already seen too). */
  waitForLine(match: (line: JsonLine) => boolean, timeoutMs?: number): Promise<JsonLine>;
  /** SIGTERM, then the exit code once it has shut down and stdout is fully read. */
  stop(): Promise<number | null>;
}

/** Spawns `node <argv>` (through `launcher`, if given) and resolves once it logs a line of type `startedType`; rejects if it exits first. */
export async function startLoggingProcess(options: {
  readonly name: string;
  readonly argv: readonly string[];
  readonly startedType: string;
  readonly env?: Record<string, string>;
  /** A program (and its arguments) that starts node, e.g. `prlimit --nofile=2048:2048 --`. */
  readonly launcher?: readonly string[];
}): Promise<LoggingProcess> {
  const { name, argv, startedType, env = {}, launcher = [] } = options;
  const [program, ...programArgs] = [...launcher, process.execPath, ...argv] as [string, ...string[]];
  const child = spawn(program, programArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-STDERR_KEPT);
  });
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const { lines, waitForLine } = readJsonLines(
    child.stdout as NonNullable<typeof child.stdout>,
    () => `; stderr: ${errors.slice(-2000)}`,
  );
  const started = await Promise.race([
    waitForLine((l) => l.type === startedType),
    closed.then((code) => {
      throw new Error(`${name} exited early with ${code}: ${errors}`);
    }),
  ]);
  return {
    child,
    lines,
    started,
    stderr: () => errors,
    waitForLine,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return closed;
    },
  };
}
