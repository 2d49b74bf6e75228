import { statSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { MISSING_SECRET } from '../../../contract/config/references.ts';
import { redactedConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError, configErrorReport } from '../../../contract/errors.ts';
import { UsageError } from '../../../lib/args.ts';
import { inputAtOutput } from '../../../lib/output-path.ts';
import { processKeys } from '../auth/process-keys.ts';
import { isConfigFileName, readSnapshotOf } from '../config/config-files.ts';
import { configFromSnapshot } from '../config/load-application.ts';
import { tellSecretsElsewhere } from '../config/secrets-elsewhere.ts';

export const VALIDATE_USAGE = `Usage: gatehouse validate <file|dir|-> [--application <name>] [--secrets-in-cluster]

Checks Gatehouse YAML the way the sidecar loads it and prints every error at once, each with
its file, line and column and field path. - reads standard input (kubectl get … -o yaml |). Prints the rendered sidecar config when valid, with
client secrets and keys redacted.

Options:
  --application <name>  the AccessApplication to check when the files hold several
  --format <format>     json (default) or yaml, for the rendered config
  -o, --output <file>   write the rendered config to a file instead of standard output
  --secrets-in-cluster  take the Secrets these files do not hold (client secrets, an upstream
                        CA) to be in the cluster, as when they are sealed or made by another
                        operator: their names are told, the rendered config shows none of them
`;

/** What `gatehouse validate` checks: one file or directory, optionally one application in it. */
export interface ValidateFlags {
  readonly path: string;
  readonly application?: string;
  readonly format: 'json' | 'yaml';
  readonly output?: string;
  /** Secrets the files do not hold are taken to be in the cluster. */
  readonly secretsInCluster: boolean;
}

/** The flags of `gatehouse validate`, checked; no side effects. Throws UsageError. */
export function parseValidateFlags(argv: readonly string[]): ValidateFlags {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      application: { type: 'string' },
      format: { type: 'string', default: 'json' },
      output: { type: 'string', short: 'o' },
      'secrets-in-cluster': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError('give one file or directory');
  if (values.format !== 'json' && values.format !== 'yaml')
    throw new UsageError('--format must be json or yaml');
  return {
    path,
    format: values.format,
    secretsInCluster: values['secrets-in-cluster'],
    ...(values.application ? { application: values.application } : {}),
    ...(values.output ? { output: values.output } : {}),
  };
}

/** Whether a file written at `output` would be read as config from the directory `path`. */
function readsAsConfig(output: string, path: string): boolean {
  const directory = statSync(path, { throwIfNoEntry: false });
  return (
    directory?.isDirectory() === true &&
    resolve(dirname(output)) === resolve(path) &&
    isConfigFileName(basename(output))
  );
}

/** `gatehouse validate`: exit 0 when the config is valid, 1 with every error otherwise. */
export async function runValidateCommand(argv: string[]): Promise<number> {
  const { path, application, format, output, secretsInCluster } = parseValidateFlags(argv);
  try {
    const snapshot = await readSnapshotOf(path);
    const overwritten = output === undefined ? undefined : inputAtOutput(output, snapshot.files.keys());
    if (overwritten !== undefined)
      throw new UsageError(
        `-o ${output} is the config file ${overwritten}: the rendered config would replace it; write it elsewhere`,
      );
    if (output !== undefined && readsAsConfig(output, path))
      throw new UsageError(
        `-o ${output} is in the config directory ${path}: the sidecar would read the rendered config as config; write it elsewhere`,
      );
    const config = configFromSnapshot(snapshot, {
      fallbackKeys: processKeys(),
      ...(application ? { application } : {}),
      ...(secretsInCluster && { onSecretsElsewhere: tellSecretsElsewhere('gatehouse validate') }),
    });
    const redacted = redactedConfig(config);
    const text =
      format === 'yaml' ? stringify(redacted, { lineWidth: 0 }) : `${JSON.stringify(redacted, null, 2)}\n`;
    if (output) writeFileSync(output, text);
    else process.stdout.write(text);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(configErrorReport(error.errors));
      if (!secretsInCluster && error.errors.some((e) => e.message.startsWith(MISSING_SECRET)))
        process.stderr.write(
          'A Secret that the cluster holds and these files do not (sealed, or made by another operator): give --secrets-in-cluster\n',
        );
      return 1;
    }
    throw error;
  }
}
