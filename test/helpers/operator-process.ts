import { assertLogLinesMatchSchema, operatorLineProblems } from './log-line-check.ts';
import { type LoggingProcess, startLoggingProcess } from './logging-process.ts';
import { GATEHOUSE_BIN } from './sidecar-process.ts';

/** A `gatehouse operator` child process whose JSON log lines the test reads. */
export interface OperatorProcess extends LoggingProcess {
  readonly deliveryPort: number;
  readonly adminPort: number;
}

/**
 * Starts the built `gatehouse operator` with the given flags and environment (and Node.js
 * arguments before it, e.g. an `--import`). Its stop checks every line it wrote against its schema.
 */
export async function startOperatorProcess(
  args: string[],
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<OperatorProcess> {
  const proc = await startLoggingProcess({
    name: 'operator',
    // Stops at SIGTERM without the production delay, unless the test gives its own.
    argv: [...nodeArgs, GATEHOUSE_BIN, 'operator', '--shutdown-delay=0s', ...args],
    startedType: 'operator_started',
    env,
  });
  return {
    ...proc,
    async stop() {
      const code = await proc.stop();
      assertLogLinesMatchSchema(proc.lines, operatorLineProblems);
      return code;
    },
    deliveryPort: Number(proc.started.deliveryPort),
    adminPort: Number(proc.started.adminPort),
  };
}
