import { AUDIT_USAGE, runAuditCommand } from '../audit/src/audit-command.ts';
import { ConfigError } from '../contract/errors.ts';
import { UsageError } from '../lib/args.ts';
import { KubeApiError, KubeconfigError } from '../lib/kube/kube-errors.ts';
import { OPERATOR_USAGE, runOperatorCommand } from '../operator/src/cli/operator-command.ts';
import { REVOKE_USAGE, runRevokeCommand } from '../operator/src/cli/revoke-command.ts';
import { runServiceTokenCommand, SERVICE_TOKEN_USAGE } from '../sidecar/src/cli/service-token-command.ts';
import { reportConfigError, runSidecarCommand } from '../sidecar/src/cli/sidecar-command.ts';
import { SIDECAR_USAGE } from '../sidecar/src/cli/sidecar-flags.ts';
import { runValidateCommand, VALIDATE_USAGE } from '../sidecar/src/cli/validate-command.ts';

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  sidecar    run the proxy for one application (--config <file|dir>, or --operator-url in a cluster)
  operator   run the control plane: watch CRDs, keep keys and status, stream config to sidecars
  validate   check AccessApplication YAML and print the rendered sidecar config
  audit      rebuild sessions, users of an IP, or requests to a path from the logs (files or --cluster)
  revoke     end a user's sessions in every sidecar of some or all applications (also: kubectl gatehouse revoke)
  service-token create <id>   a new service token: the secret once, and its hash for the YAML
  version    print the version (also --version, -v)

Run 'gatehouse <command> --help' (or -h) for a command's options. Every command that writes a
result takes -o/--output <file> for where, and --format for how.
`;

const COMMANDS: Record<string, { usage: string; run: (argv: string[]) => number | Promise<number> }> = {
  sidecar: { usage: SIDECAR_USAGE, run: runSidecarCommand },
  operator: { usage: OPERATOR_USAGE, run: runOperatorCommand },
  validate: { usage: VALIDATE_USAGE, run: runValidateCommand },
  revoke: { usage: REVOKE_USAGE, run: runRevokeCommand },
  audit: { usage: AUDIT_USAGE, run: runAuditCommand },
  'service-token': { usage: SERVICE_TOKEN_USAGE, run: runServiceTokenCommand },
};

const HELP: ReadonlySet<string> = new Set(['help', '--help', '-h']);

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'version' || name === '--version' || name === '-v') {
    const { default: pkg } = await import('../package.json', { with: { type: 'json' } });
    process.stdout.write(`gatehouse ${pkg.version}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    process.stderr.write(
      name && !HELP.has(name) ? `gatehouse: unknown command ${JSON.stringify(name)}\n\n${USAGE}` : USAGE,
    );
    return name !== undefined && HELP.has(name) ? 0 : 2;
  }
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
      reportConfigError(error);
      return 1;
    }
    if (/^E[A-Z]+$/.test(code) && typeof (error as { path?: unknown }).path === 'string') {
      process.stderr.write(`gatehouse ${name}: ${(error as Error).message}\n`);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (code !== 0 || process.argv[2] === 'sidecar' || process.argv[2] === 'operator')
      setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
