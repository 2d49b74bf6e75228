/**
 * The Node.js options the sidecar is measured and bounded with, defined once.
 * - `--max-semi-space-size=4`: young-generation semi-spaces of 4 MiB. The requests in flight
 *   (about 32 KB of objects each) fit in them and die young; in 1 MiB semi-spaces fifty requests
 *   in flight overflowed, the survivors were promoted and V8's background thread kept marking
 *   them: 475 against 303 µs of CPU per signed-in request (bench/gc-per-request.ts). V8 collects
 *   body chunks only as often as it scavenges, so the setting also bounds memory while streaming:
 *   1 GiB transfers peak at about 125 MiB of anonymous memory (90 with 1 MiB). Without the option
 *   V8 sizes the young generation from the memory the process may use: 1 MiB semi-spaces in the
 *   injected container's 512 MiB limit, several times 4 MiB on a large host without a limit.
 * - `--v8-pool-size=1`: one V8 background thread instead of four. When the hot request path is
 *   optimized (a burst of TurboFan compiles some seconds into sustained load) four compiler
 *   threads at the request thread's priority took four fifths of a one-core budget for 300 to
 *   400 ms, and requests queued behind them; with one the request thread keeps half.
 * Every V8 flag given here must leave Node.js's code cache of its own modules usable (V8 rejects
 * a cache made with other flags that affect code, `--expose-gc` among them: 36 of Node's modules
 * compiled from source in every start); test/sidecar/builtin-code-cache.test.ts checks it.
 * V8 reads them only at start, so they travel in NODE_OPTIONS: the image sets them (Dockerfile
 * `ENV`, checked against this constant by a test), the injection webhook sets them on the sidecar
 * container, and `gatehouse sidecar` started without them says so in its first lines.
 */
export const SIDECAR_NODE_OPTIONS = '--max-semi-space-size=4 --v8-pool-size=1';

/**
 * glibc's malloc gives the free top of a heap back to the system once it exceeds this many bytes.
 * Its default starts at the same 128 KiB but rises (up to 64 MiB) each time a block malloc mapped
 * on its own is freed, and V8's compiles free many: after the optimizing compile of undici's HTTP
 * parser (23 MB at its peak, on V8's background thread) 10.7 of that thread's 10.9 MiB heap stayed
 * free and resident. Fixed, the value no longer rises and such a heap is mostly given back:
 * idle RSS 75 to 82 MiB against 85, peak after 200 connections 117 to 119 against 120 to 122,
 * CPU per request within the noise (docs/sidecar.md, "Memory allocator"). glibc reads it from
 * the environment when the process starts.
 */
export const SIDECAR_MALLOC_TRIM_THRESHOLD = '131072';

/**
 * glibc's malloc serves a block of this many bytes or more with a mapping of its own, unmapped
 * when the block is freed. Below its default (128 KiB) fall two kinds of blocks that otherwise
 * stay resident once freed, scattered through heaps whose top alone is ever trimmed: the 32 KiB
 * segments of V8's compiler memory (the optimizing compile of undici's HTTP parser during the
 * first requests takes 22.8 MB of them on V8's background thread, of which about 9 MiB stayed) and
 * the 64 KiB buffers body chunks are read into. Measured in the injected form
 * (bench/sidecar-environment.ts, medians of four interleaved rounds): anonymous memory at rest
 * 22.1 against 30.9 MiB, after 1 MiB responses and 200 connections 56.6 against 104.3; CPU per
 * small signed-in request the same (294 against 294 µs at 50 connections), per 1 MiB response
 * 4.7 against 3.3 ms, a mapping and its page faults for every 64 KiB read; CPU to the first
 * answer 314 against 288 ms (the compiles of the start take their memory the same way; six
 * interleaved pairs). Memory per pod was the larger gain (docs/benchmarks.md, "Memory
 * allocator"). glibc reads it from the environment when the process starts.
 */
export const SIDECAR_MALLOC_MMAP_THRESHOLD = '32768';

/**
 * The environment a new sidecar process gets, as the image (Dockerfile `ENV`) and the injection
 * webhook set it: SIDECAR_NODE_OPTIONS and glibc's trim and mapping thresholds.
 */
export const SIDECAR_NODE_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: SIDECAR_NODE_OPTIONS,
  MALLOC_TRIM_THRESHOLD_: SIDECAR_MALLOC_TRIM_THRESHOLD,
  MALLOC_MMAP_THRESHOLD_: SIDECAR_MALLOC_MMAP_THRESHOLD,
});

/** True when every option of SIDECAR_NODE_OPTIONS is in effect for this process. */
export function sidecarNodeOptionsApplied(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((o) => o.replace(/_/g, '-')));
  return SIDECAR_NODE_OPTIONS.split(/\s+/).every((option) => given.has(option));
}
