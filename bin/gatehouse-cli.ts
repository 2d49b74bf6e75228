// Every command of `gatehouse` but the sidecar (bin/sidecar-cli.ts).
import { type Commands, runCommandLine } from './run-command-line.ts';

// Each command's modules load only when it runs, and `--version` loads none of them. The sidecar
// is not here: bin/gatehouse.ts starts it from bin/sidecar-cli.ts, which the build bundles on its
// own (scripts/build.ts).
const COMMANDS: Commands = {
  operator: async () => {
    const { OPERATOR_USAGE, runOperatorCommand } = await import('../operator/src/cli/operator-command.ts');
    return { usage: OPERATOR_USAGE, run: runOperatorCommand };
  },
  validate: async () => {
    const { VALIDATE_USAGE, runValidateCommand } = await import('../sidecar/src/cli/validate-command.ts');
    return { usage: VALIDATE_USAGE, run: runValidateCommand };
  },
  explain: async () => {
    const [{ runExplainCommand }, { EXPLAIN_USAGE }] = await Promise.all([
      import('../sidecar/src/cli/explain-command.ts'),
      import('../sidecar/src/cli/explain-flags.ts'),
    ]);
    return { usage: EXPLAIN_USAGE, run: runExplainCommand };
  },
  revoke: async () => {
    const { REVOKE_USAGE, runRevokeCommand } = await import('../operator/src/cli/revoke-command.ts');
    return { usage: REVOKE_USAGE, run: runRevokeCommand };
  },
  audit: async () => {
    const { AUDIT_USAGE, runAuditCommand } = await import('../audit/src/audit-command.ts');
    return { usage: AUDIT_USAGE, run: runAuditCommand };
  },
  'service-token': async () => {
    const { SERVICE_TOKEN_USAGE, runServiceTokenCommand } = await import(
      '../sidecar/src/cli/service-token-command.ts'
    );
    return { usage: SERVICE_TOKEN_USAGE, run: runServiceTokenCommand };
  },
};

runCommandLine(COMMANDS);
