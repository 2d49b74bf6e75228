import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SIDECAR_NODE_ENV, SIDECAR_NODE_OPTIONS } from '../contract/sidecar-node-options.ts';
import { DEFAULT_IDLE_COLLECTION_AFTER_MS, IDLE_COLLECTION_GAP } from '../sidecar/src/cli/sidecar-flags.ts';
import { type MemoryGroup, pinned } from './process-measures.ts';

export interface BuiltSidecarOptions {
  /** Where the config comes from, instead of `--config <configPath>` (e.g. the operator's flags). */
  readonly configFlags?: readonly string[];
  /** NODE_OPTIONS instead of the shipped ones. */
  readonly nodeOptions?: string;
  /** The admin listener's port (/metrics), instead of any free one. */
  readonly adminPort?: number;
  /** Pinned to a core, in the memory group when it has one. */
  readonly pin?: { readonly core: number; readonly memory: MemoryGroup };
  /** Without the image's compile cache (NODE_COMPILE_CACHE), which it has by default. */
  readonly noCompileCache?: boolean;
  /** The Node.js binary, instead of this process's. */
  readonly node?: string;
  /** Variables set (a string) or removed (undefined) on top of the shipped environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Another build's dist/ (e.g. an earlier commit's, to compare), instead of this one's. */
  readonly dist?: string;
  /** Node.js options on its command line, before the script (e.g. `--trace-gc`, which NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
  /** A file descriptor for its stdout (the request lines, and what --trace-gc prints), instead of /dev/null. */
  readonly stdout?: number;
}

const root = resolve(import.meta.dirname, '..');
/** This checkout's build, what every benchmark runs unless told another (`dist`). */
export const BUILT_DIST = join(root, 'dist');
const compileCaches = new Map<string, string>();

/**
 * The environment of a Node.js process started as the image starts it: this process's, with the
 * image's variables (SIDECAR_NODE_ENV) and, when given, a compile cache. Without
 * NODE_EXTRA_CA_CERTS: the image sets no extra CA certificates, and a host's (a whole CA bundle on
 * some machines) is parsed by every Node.js process that opens a TLS connection, about 1 MiB of a
 * cluster-mode sidecar's idle memory.
 */
export function shippedNodeEnv(compileCacheDir?: string): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _hostCertificates, ...env } = process.env;
  return {
    ...env,
    ...SIDECAR_NODE_ENV,
    ...(compileCacheDir === undefined ? {} : { NODE_COMPILE_CACHE: compileCacheDir }),
  };
}

/**
 * Node's compile cache of dist/ (or of another build's `dist`), made as the image makes it
 * (Dockerfile: bin/warm-compile-cache.ts with the sidecar's NODE_OPTIONS), once per build and
 * benchmark process in a temporary directory.
 */
export function imageCompileCache(dist = BUILT_DIST): string {
  let dir = compileCaches.get(dist);
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-compile-cache-'));
    execFileSync(process.execPath, [join(dist, 'bin/warm-compile-cache.js'), dir], {
      env: shippedNodeEnv(dir),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    compileCaches.set(dist, dir);
  }
  return dir;
}

/**
 * Starts the built sidecar as the image runs it (dist/, the shipped NODE_OPTIONS and compile cache)
 * on loopback; its stdout goes to /dev/null (or `options.stdout`). The first call makes the compile cache (about half a
 * second): a benchmark that times the spawn calls imageCompileCache() before it.
 */
export function spawnBuiltSidecar(
  configPath: string,
  port: number,
  options: BuiltSidecarOptions = {},
): ChildProcess {
  const dist = options.dist ?? BUILT_DIST;
  const args = [
    ...(options.nodeArgs ?? []),
    join(dist, 'bin/gatehouse.js'),
    'sidecar',
    ...(options.configFlags ?? ['--config', configPath]),
    '--listen',
    `127.0.0.1:${port}`,
    '--admin-listen',
    `127.0.0.1:${options.adminPort ?? 0}`,
    // Benchmarks stop sidecars by the dozen and time none of their stops.
    '--shutdown-delay',
    '0s',
  ];
  const node = options.node ?? process.execPath;
  const [command, argv] = options.pin
    ? pinned(options.pin.memory, options.pin.core, node, args)
    : [node, args];
  const env: NodeJS.ProcessEnv = {
    ...shippedNodeEnv(options.noCompileCache ? undefined : imageCompileCache(dist)),
    NODE_OPTIONS: options.nodeOptions ?? SIDECAR_NODE_OPTIONS,
  };
  for (const [name, value] of Object.entries(options.env ?? {}))
    if (value === undefined) delete env[name];
    else env[name] = value;
  return spawn(command, argv, {
    // stdout (one line per request) is consumed by /dev/null unless a file is given
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'],
    env,
  });
}

/**
 * Seconds of rest after which a sidecar as shipped has given memory back: its idle collection
 * runs between one and one and a half quiet times after the last request (it checks every half
 * quiet time), and a second more for a late check and the collection itself.
 */
export const RESTED_SECONDS = (1.5 * DEFAULT_IDLE_COLLECTION_AFTER_MS) / 1000 + 1;
/** Seconds after which a sidecar that collected already may collect again (the least gap). */
export const COLLECTED_AGAIN_SECONDS = (IDLE_COLLECTION_GAP * DEFAULT_IDLE_COLLECTION_AFTER_MS) / 1000;
