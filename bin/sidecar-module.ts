import type { Command } from './command.ts';

/**
 * The `sidecar` command, loaded from its modules (run from source). The shipped bundle replaces
 * this module with bin/shipped-sidecar-module.ts, which runs dist/bin/sidecar-script.js with its
 * code cache (scripts/bundle-settings.ts).
 */
export async function loadSidecarCommand(): Promise<Command> {
  const { runSidecarCommand, SIDECAR_USAGE } = await import('../sidecar/src/cli/sidecar-entry.ts');
  return { usage: SIDECAR_USAGE, run: (argv) => runSidecarCommand(argv) };
}
