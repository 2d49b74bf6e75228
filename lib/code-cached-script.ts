import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { constants, Script } from 'node:vm';

/**
 * What became of a script's code cache: read and used, read and refused by V8 (another V8, other
 * code-relevant flags, another script), or none to read.
 */
export const CODE_CACHE_USES = ['accepted', 'rejected', 'none'] as const;
export type CodeCacheUse = (typeof CODE_CACHE_USES)[number];

/** A CommonJS script run from its file, and the Script it was compiled as. */
export interface CodeCachedScript {
  /** Its module.exports once run. */
  readonly exports: Record<string, unknown>;
  readonly codeCache: CodeCacheUse;
  /**
   * V8's code cache of the script as it is now: everything compiled so far, including the
   * functions compiled lazily since it ran (a cache made when a module loads holds only what its
   * first run needs compiled).
   */
  createCodeCache(): Buffer;
  /** Writes createCodeCache() to a file as runCodeCachedScript reads it (with its checksum). */
  writeCodeCache(path: string): void;
}

/** A cache file starts with the SHA-256 of the rest. */
const DIGEST_BYTES = 32;

/**
 * Runs a CommonJS script (`source`, read from `file`) whose whole text is one function expression,
 * `(function (exports, require, module, __filename, __dirname) { ... })` (scripts/build.ts writes
 * the sidecar's so), with V8's code cache from `cacheFile` when one is there. V8 refuses a cache
 * that does not fit this V8, its flags and this script's source, and then compiles the source as
 * without one; a file whose checksum does not match is refused before V8 sees it. The cache's
 * bytes are given back as soon as V8 has read them.
 */
export function runCodeCachedScript(
  file: string,
  source: string,
  cacheFile: string | undefined,
): CodeCachedScript {
  const cacheBytes = cacheFile === undefined ? undefined : readCacheFile(cacheFile);
  const cachedData =
    cacheBytes === undefined || !intact(cacheBytes) ? undefined : cacheBytes.subarray(DIGEST_BYTES);
  const script = new Script(source, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData }),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // V8 is done with them once the script is compiled: free them now, not at a later collection.
  cacheBytes?.buffer.transfer(0);
  const codeCache: CodeCacheUse =
    cacheBytes === undefined
      ? 'none'
      : cachedData === undefined || script.cachedDataRejected === true
        ? 'rejected'
        : 'accepted';
  const wrapper: unknown = script.runInThisContext();
  if (typeof wrapper !== 'function')
    throw new TypeError(`${file} is not one function expression (a CommonJS wrapper)`);
  const module = { exports: {} as Record<string, unknown> };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    codeCache,
    createCodeCache: () => script.createCachedData(),
    writeCodeCache(path) {
      const data = script.createCachedData();
      writeFileSync(path, Buffer.concat([createHash('sha256').update(data).digest(), data]));
    },
  };
}

/**
 * Whether a cache file's bytes are as they were written. V8 checks that a cache fits its version,
 * its flags and the source's length, not that its bytes are whole: a damaged one would be
 * deserialized as it is (and ends the process).
 */
function intact(bytes: Uint8Array): boolean {
  if (bytes.length <= DIGEST_BYTES) return false;
  const digest = createHash('sha256').update(bytes.subarray(DIGEST_BYTES)).digest();
  return digest.equals(bytes.subarray(0, DIGEST_BYTES));
}

/**
 * The cache file's bytes in memory of their own (never a slice of a shared pool, so that they can
 * be freed at once), or undefined when there is none to read: the cache is optional.
 */
function readCacheFile(path: string): Uint8Array<ArrayBuffer> | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const bytes = new Uint8Array(fstatSync(fd).size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return read === bytes.length ? bytes : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
