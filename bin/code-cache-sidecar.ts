// Run by the image's warm-up (bin/sidecar-warm-up.ts), never in a pod: `gatehouse sidecar` from
// dist/bin/sidecar-script.js, compiled as it runs; once it has stopped (SIGTERM), V8's code cache
// of the script as it is then (everything the sidecar compiled while it served) goes into the
// cache directory, named for the script's key, where `gatehouse sidecar` reads it.
//
//   node dist/bin/code-cache-sidecar.js <cache-directory> <sidecar flags...>
import { join } from 'node:path';
import { runSidecarScript, SIDECAR_SCRIPT_NAME } from './sidecar-script.ts';

const [cacheDirectory, ...sidecarArgs] = process.argv.slice(2);
if (!cacheDirectory) {
  process.stderr.write('usage: node dist/bin/code-cache-sidecar.js <cache-directory> <sidecar flags...>\n');
  process.exit(2);
}
const script = runSidecarScript(join(import.meta.dirname, SIDECAR_SCRIPT_NAME), undefined);
const code = await script.entry.runSidecarCommand(sidecarArgs, script.codeCache);
if (code === 0) script.writeCodeCache(cacheDirectory);
process.exit(code);
