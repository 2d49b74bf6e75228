import { statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { MISSING_SECRET } from '../../../contract/config/references.ts';
import { redactedConfig, type SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError, configErrorReport } from '../../../contract/errors.ts';
import { UsageError } from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { inputAtOutput } from '../../../lib/output-path.ts';
import { processKeys } from '../auth/process-keys.ts';
import { isConfigFileName, readSnapshotOf } from '../config/config-files.ts';
import { configFromSnapshot, everyConfigFromSnapshot } from '../config/load-application.ts';
import { tellSecretsElsewhere } from '../config/secrets-elsewhere.ts';

export const VALIDATE_USAGE = `Usage: gatehouse validate <file|dir|-> [-R] [--application <name>] [--secrets-in-cluster]

Checks Gatehouse YAML the way the sidecar loads it and prints every error at once, each with
its file, line and column and field path: every application of the files in one pass. Prints
the rendered sidecar config when valid (of several applications, each under its
namespace/name), with client secrets and keys redacted. - reads standard input
(kubectl get … -o yaml | gatehouse validate -).

Options:
  -R, --recursive       read the directory's subdirectories too (a repository of manifests;
                        hidden ones such as .git are passed over, links to directories not
                        followed); files are named by their path under it
  --application <name>  only this AccessApplication of the files (namespace/name when a name
                        is in two namespaces)
  --format <format>     json (default) or yaml, for the rendered config
  -o, --output <file>   write the rendered config to a file instead of standard output
  --secrets-in-cluster  take the Secrets these files do not hold (client secrets, an upstream
                        CA) to be in the cluster, as when they are sealed or made by another
                        operator: their names are told, the rendered config shows none of them
`;

/** What `gatehouse validate` checks: one file or directory, optionally one application in it. */
export interface ValidateFlags {
  readonly path: string;
  /** The directory's subdirectories are read too. */
  readonly recursive: boolean;
  readonly application?: string;
  readonly format: 'json' | 'yaml';
  readonly output?: string;
  /** Secrets the files do not hold are taken to be in the cluster. */
  readonly secretsInCluster: boolean;
}

/** The flags of `gatehouse validate`, checked; no side effects. Throws UsageError. */
export function parseValidateFlags(argv: readonly string[]): ValidateFlags {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    options: {
      application: { type: 'string' },
      format: { type: 'string', default: 'json' },
      output: { type: 'string', short: 'o' },
      recursive: { type: 'boolean', short: 'R', default: false },
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
    recursive: values.recursive,
    format: values.format,
    secretsInCluster: values['secrets-in-cluster'],
    ...(values.application ? { application: values.application } : {}),
    ...(values.output ? { output: values.output } : {}),
  };
}

/**
 * The rendered configs of the files: the one config when they hold one application, else each
 * under its `namespace/name`, in that order (a repository of many is checked in one pass).
 */
function everyRedacted(configs: ReadonlyMap<string, SidecarConfig>): object {
  if (configs.size === 1) return redactedConfig([...configs.values()][0] as SidecarConfig);
  return Object.fromEntries(
    [...configs].sort(([a], [b]) => a.localeCompare(b)).map(([key, c]) => [key, redactedConfig(c)]),
  );
}

/** Whether a file written at `output` would be read as config from the directory `path` (or its tree). */
function readsAsConfig(output: string, path: string, recursive: boolean): boolean {
  const directory = statSync(path, { throwIfNoEntry: false });
  const under = relative(resolve(path), resolve(dirname(output)));
  const inside = recursive ? !under.startsWith('..') && !isAbsolute(under) : under === '';
  return directory?.isDirectory() === true && inside && isConfigFileName(basename(output));
}

/** `gatehouse validate`: exit 0 when the config is valid, 1 with every error otherwise. */
export async function runValidateCommand(argv: string[]): Promise<number> {
  const { path, recursive, application, format, output, secretsInCluster } = parseValidateFlags(argv);
  const elsewhere: string[] = [];
  const tellElsewhere = (): void => {
    const names = [...new Set(elsewhere)];
    if (names.length > 0) tellSecretsElsewhere('gatehouse validate')(names);
  };
  try {
    const snapshot = await readSnapshotOf(path, recursive);
    const overwritten = output === undefined ? undefined : inputAtOutput(output, snapshot.files.keys());
    if (overwritten !== undefined)
      throw new UsageError(
        `-o ${output} is the config file ${overwritten}: the rendered config would replace it; write it elsewhere`,
      );
    if (output !== undefined && readsAsConfig(output, path, recursive))
      throw new UsageError(
        `-o ${output} is in the config directory ${path}: the sidecar would read the rendered config as config; write it elsewhere`,
      );
    const select = {
      fallbackKeys: processKeys(),
      ...(secretsInCluster && { onSecretsElsewhere: (names: readonly string[]) => elsewhere.push(...names) }),
    };
    // One application (or the one asked for) as its config; several, each under its namespace/name.
    const rendered = application
      ? redactedConfig(configFromSnapshot(snapshot, { ...select, application }))
      : everyRedacted(everyConfigFromSnapshot(snapshot, select));
    tellElsewhere();
    const text =
      format === 'yaml' ? stringify(rendered, { lineWidth: 0 }) : `${JSON.stringify(rendered, null, 2)}\n`;
    if (output) writeFileSync(output, text);
    else process.stdout.write(text);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      tellElsewhere();
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
