import { fileURLToPath } from 'node:url';
import type { Command } from './command.ts';
import { runSidecarScript, SIDECAR_SCRIPT_NAME } from './sidecar-script.ts';

/**
 * The `sidecar` command as it ships: dist/bin/sidecar-script.js, run with its code cache from the
 * image's NODE_COMPILE_CACHE directory (bin/warm-compile-cache.ts makes it) unless
 * NODE_DISABLE_COMPILE_CACHE=1 turns Node's compile cache off, which turns this one off too. Replaces
 * bin/sidecar-module.ts in the bundle (scripts/bundle-settings.ts), which puts it in a chunk of
 * dist/bin/chunks, beside the script's directory.
 */
export async function loadSidecarCommand(): Promise<Command> {
  const file = fileURLToPath(new URL(`../${SIDECAR_SCRIPT_NAME}`, import.meta.url));
  const cacheDirectory =
    process.env.NODE_DISABLE_COMPILE_CACHE === '1' ? undefined : process.env.NODE_COMPILE_CACHE || undefined;
  const script = runSidecarScript(file, cacheDirectory);
  const { runSidecarCommand, SIDECAR_USAGE } = script.entry;
  return { usage: SIDECAR_USAGE, run: (argv) => runSidecarCommand(argv, script.codeCache) };
}
