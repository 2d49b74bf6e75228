// Runs one `gatehouse` command line against a table of commands: --version, help, usage errors
// and the errors every command may end with, and the process's exit. bin/gatehouse-cli.ts gives it
// every command but the sidecar; bin/sidecar-cli.ts, a bundle of its own, the sidecar alone.
import { ConfigError, configErrorReport } from '../contract/errors.ts';
import { UsageError } from '../lib/args.ts';
import { exitWhenWritten } from '../lib/exit-when-written.ts';
import { fileErrorText } from '../lib/file-error-text.ts';
import { KubeApiError, KubeconfigError } from '../lib/kube/kube-errors.ts';
import { ListenError } from '../lib/listen.ts';

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  sidecar    run the proxy for one application (--config <file|dir>, or --operator-url in a cluster)
  operator   run the control plane: watch CRDs, keep keys and status, stream config to sidecars
  validate   check AccessApplication YAML and print the rendered sidecar config
  explain    decide one request with an application's policies, and say why (nothing is sent)
  audit      rebuild sessions, users of an IP or a private endpoint, or requests to a path from the logs (files or --cluster)
  revoke     end a user's sessions, or one session, in every sidecar of some or all applications (also: kubectl gatehouse revoke)
  service-token create <id>   a new service token: the secret once, and its hash for the YAML
  version    print the version (also --version, -v)

Run 'gatehouse <command> --help' (or -h) for a command's options. Every command that writes a
result takes -o/--output <file> for where, and --format for how.
`;

export interface Command {
  readonly usage: string;
  run(argv: string[]): number | Promise<number>;
}

/** Each command's modules, loaded only when it runs. */
export type Commands = Readonly<Record<string, () => Promise<Command>>>;

const HELP: ReadonlySet<string> = new Set(['help', '--help', '-h']);

async function main(commands: Commands, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'version' || name === '--version' || name === '-v') {
    const { default: pkg } = await import('../package.json', { with: { type: 'json' } });
    process.stdout.write(`gatehouse ${pkg.version}\n`);
    return 0;
  }
  const load = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(
      name && !HELP.has(name) ? `gatehouse: unknown command ${JSON.stringify(name)}\n\n${USAGE}` : USAGE,
    );
    return name !== undefined && HELP.has(name) ? 0 : 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (error instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gatehouse ${name}: ${(error as Error).message}\n\n${command.usage}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(configErrorReport(error.errors));
      return 1;
    }
    const path = (error as { path?: unknown }).path;
    if (/^E[A-Z]+$/.test(code) && typeof path === 'string') {
      // Node's own (`ENOENT: no such file or directory, open '/x'`) said as `/x: no such file or directory`.
      const message = (error as Error).message;
      const said = message.startsWith(`${code}: `) ? `${path}: ${fileErrorText(error)}` : message;
      process.stderr.write(`gatehouse ${name}: ${said}\n`);
      return 1;
    }
    if (error instanceof ListenError) {
      process.stderr.write(`gatehouse ${name}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof KubeconfigError) {
      process.stderr.write(`gatehouse ${name}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof KubeApiError) {
      process.stderr.write(`gatehouse ${name}: ${error.message} (${error.code})\n`);
      return 1;
    }
    throw error;
  }
}

/** Runs the command named by the process's arguments, and ends the process with its status. */
export function runCommandLine(commands: Commands): void {
  main(commands, process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // The sidecar and the operator write their lines themselves and have flushed them by now.
      if (process.argv[2] === 'sidecar' || process.argv[2] === 'operator')
        setImmediate(() => process.exit(code));
      else if (code !== 0) void exitWhenWritten(code);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
