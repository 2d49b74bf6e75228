// Fills Node's compile cache (V8 code cache, module.enableCompileCache) for every module of the
// bundle, so that a process started with NODE_COMPILE_CACHE=<directory> reads compiled code
// instead of compiling its JavaScript again. The image runs it once, with its own node binary and
// NODE_OPTIONS (V8 accepts a code cache only from the same V8 with the same code-relevant flags)
// and as the user its processes run as (Node keeps a cache directory per user ID), into a
// directory that is read-only once the image runs in a pod (Dockerfile). A module the cache does
// not fit is compiled as without it; nothing needs the cache to work.
//
//   node dist/bin/warm-compile-cache.js <directory>
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants, enableCompileCache, flushCompileCache } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const USAGE = 'usage: node dist/bin/warm-compile-cache.js <directory>\n';

const [directory, ...extra] = process.argv.slice(2);
if (directory === undefined || directory === '' || extra.length > 0) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const cacheDirectory = resolve(directory);

const enabled = enableCompileCache(cacheDirectory);
if (
  enabled.status !== constants.compileCacheStatus.ENABLED &&
  enabled.status !== constants.compileCacheStatus.ALREADY_ENABLED
) {
  process.stderr.write(
    `warm-compile-cache: Node.js could not enable its compile cache in ${cacheDirectory}: ${enabled.message ?? `status ${enabled.status}`}\n`,
  );
  process.exit(1);
}
// Node keeps each cache in a directory named for its version, V8's and the user ID, under the one given.
if (enabled.directory !== undefined && dirname(resolve(enabled.directory)) !== cacheDirectory) {
  process.stderr.write(
    `warm-compile-cache: the compile cache is already on in ${enabled.directory} (NODE_COMPILE_CACHE), not ${cacheDirectory}\n`,
  );
  process.exit(1);
}

const bin = import.meta.dirname;
const entry = join(bin, 'gatehouse.js');
// The entry and the chunks it loads when it starts run the command line: compiled by running it,
// and the sidecar's command line (a bundle of its own, scripts/build.ts) by asking it for its help.
for (const args of [['--version'], ['sidecar', '--help']])
  execFileSync(process.execPath, [entry, ...args], {
    env: { ...process.env, NODE_COMPILE_CACHE: cacheDirectory },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
const loadedByEntry = new Set(
  [...readFileSync(entry, 'utf8').matchAll(/import\("\.\/chunks\/([^"]+)"\)/g)].map((m) =>
    join(bin, 'chunks', m[1] as string),
  ),
);
// Every other chunk, of either bundle, only defines what a command uses; importing it compiles it.
const chunks = ['chunks', 'sidecar/chunks']
  .flatMap((dir) => readdirSync(join(bin, dir)).map((name) => join(bin, dir, name)))
  .filter((path) => path.endsWith('.js') && !loadedByEntry.has(path))
  .sort();
for (const path of chunks) await import(pathToFileURL(path).href);
flushCompileCache();
process.stdout.write(
  `warm-compile-cache: ${chunks.length + loadedByEntry.size + 2} modules compiled into ${cacheDirectory}\n`,
);
process.exit(0);
