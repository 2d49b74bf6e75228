// The sidecar's code as it ships: one CommonJS script, dist/bin/sidecar-script.js (scripts/build.ts),
// run with V8's code cache of everything a sidecar compiled while the image was built
// (bin/warm-compile-cache.ts). Node's own compile cache holds only what V8 compiles as a module
// loads; most of a sidecar's functions are compiled later, on their first call (the start, the
// first requests), and a script's cache made after it ran holds them too (docs/benchmarks.md).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CodeCacheUse, runCodeCachedScript } from '../lib/code-cached-script.ts';
import type * as SidecarEntry from '../sidecar/src/cli/sidecar-entry.ts';

/** The script's name in dist/bin. */
export const SIDECAR_SCRIPT_NAME = 'sidecar-script.js';

/** Its first line: this, then the key of the rest of its text. */
const HEADER_PREFIX = '// gatehouse sidecar script ';

/**
 * The first line of the script whose other lines are `body`: a key of that text (SHA-256), which
 * names its code cache, so that a cache is only ever read for the text it was made from (V8's own
 * check of a cache compares the source's length, not its text).
 */
export function sidecarScriptHeader(body: string): string {
  return `${HEADER_PREFIX}${createHash('sha256').update(body).digest('hex').slice(0, 32)}\n`;
}

/** The key in the first line of the script's text (sidecarScriptHeader), or undefined without one. */
export function sidecarScriptKey(text: string): string | undefined {
  const end = text.indexOf('\n');
  const header = end < 0 ? '' : text.slice(0, end);
  const key = header.startsWith(HEADER_PREFIX) ? header.slice(HEADER_PREFIX.length) : '';
  return /^[0-9a-f]{32}$/.test(key) ? key : undefined;
}

/** The file holding the code cache of the script with that key, in a cache directory. */
export function sidecarCodeCacheFile(directory: string, key: string): string {
  return join(directory, `sidecar-script-${key}.v8-code-cache`);
}

/**
 * The script's text. Read as UTF-8, Node.js decodes it in C++ straight into a string, with no
 * Buffer of the whole file on the way (3 MB of external memory counts against V8's first
 * allocation limit: in a 512 MiB container it brought a full collection into every start), and
 * V8 keeps an ASCII text, as the build writes it, in one byte a character.
 */
export function readSidecarScript(file: string): string {
  return readFileSync(file, 'utf8');
}

/** The sidecar's script, run. */
export interface SidecarScript {
  readonly entry: typeof SidecarEntry;
  readonly codeCache: CodeCacheUse;
  /** The key from its first line. */
  readonly key: string;
  /** Writes V8's code cache of it as it is now, where runSidecarScript looks for it (bin/code-cache-sidecar.ts, once a sidecar has served). */
  writeCodeCache(cacheDirectory: string): void;
}

/**
 * Runs the script at `file`, with its code cache from `cacheDirectory` (the image's
 * NODE_COMPILE_CACHE) when there is one for its key; compiled as it runs otherwise.
 */
export function runSidecarScript(file: string, cacheDirectory: string | undefined): SidecarScript {
  const text = readSidecarScript(file);
  const key = sidecarScriptKey(text);
  if (key === undefined) throw new Error(`${file} does not start with the sidecar script's header`);
  const cacheFile = cacheDirectory ? sidecarCodeCacheFile(cacheDirectory, key) : undefined;
  const script = runCodeCachedScript(file, text, cacheFile);
  return {
    entry: script.exports as unknown as typeof SidecarEntry,
    codeCache: script.codeCache,
    key,
    writeCodeCache: (cacheDirectory) => script.writeCodeCache(sidecarCodeCacheFile(cacheDirectory, key)),
  };
}
