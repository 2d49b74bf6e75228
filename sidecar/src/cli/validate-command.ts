import { parseArgs } from 'node:util';
import { redactedConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError } from '../../../contract/errors.ts';
import { UsageError } from '../../../lib/args.ts';
import { processKeys } from '../auth/process-keys.ts';
import { configFromSnapshot } from '../config/load-application.ts';
import { readSnapshot } from '../config/load-documents.ts';
import { reportConfigError } from './sidecar-command.ts';

export const VALIDATE_USAGE = `Usage: gatehouse validate <file|dir> [--application <name>]

Checks Gatehouse YAML the way the sidecar loads it and prints every error with its path.
Prints the rendered sidecar config as JSON when valid, with client secrets and keys redacted.
`;

/** What `gatehouse validate` checks: one file or directory, optionally one application in it. */
export interface ValidateFlags {
  readonly path: string;
  readonly application?: string;
}

/** The flags of `gatehouse validate`, checked; no side effects. Throws UsageError. */
export function parseValidateFlags(argv: readonly string[]): ValidateFlags {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { application: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError('give one file or directory');
  return { path, ...(values.application ? { application: values.application } : {}) };
}

/** `gatehouse validate`: exit 0 when the config is valid, 1 with every error otherwise. */
export function runValidateCommand(argv: string[]): number {
  const { path, application } = parseValidateFlags(argv);
  try {
    const config = configFromSnapshot(readSnapshot(path), {
      fallbackKeys: processKeys(),
      ...(application ? { application } : {}),
    });
    process.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      reportConfigError(error);
      return 1;
    }
    throw error;
  }
}
