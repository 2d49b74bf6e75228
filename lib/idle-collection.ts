/**
 * Gives a quiet process's memory back: one memory-reducing garbage collection once no work has
 * started for a while.
 *
 * V8 has this built in (its memory reducer, some seconds after the last full collection), but in
 * Node.js 24 it does not fire on its own: it waits for a low allocation rate in the JavaScript
 * heap *and* in the embedder's heap, and reads a process that has never run a memory-reducing
 * collection as busy (`--trace-memory-reducer`: "high alloc" every 8 s of an idle sidecar,
 * forever). So the young generation stays at the size the last load grew it to, and the free
 * pages of the old one stay mapped. Once one memory-reducing collection has run (the start's,
 * here) it reads the rate right and collects twice about 8 s after that one. A load that comes
 * before those two run, it gives back itself about 8 s after the load, before the quiet time is
 * over, and the growth condition below then skips this collection; a later load waits for this
 * one (bench/memory-reducer.ts). This does what the
 * memory reducer would: after `quietMs` without a new piece of work, and at most once every
 * `minGapMs`, one collection, only if work started since the last one (or `dirty()` was called)
 * and, when `heapBytes` is given, only if the heap has grown by `minGrowthBytes` since the last
 * collection left it. A full collection at rest is not free for the work after it: it frees the
 * shapes of objects that only optimized code still pointed at, V8 drops that code, and the next
 * requests run unoptimized while it is compiled again; after a few requests that grew nothing
 * there is nothing to give back for that price.
 */
export interface IdleCollectionOptions {
  /** A count that grows with every piece of work started (requests, in the sidecar). */
  readonly started: () => number;
  /** Quiet time before the collection; 0 turns it off. */
  readonly quietMs: number;
  /** Least time between two collections. */
  readonly minGapMs: number;
  /** The memory-reducing collection (synchronous). */
  readonly collect: () => void;
  /** Told how long each collection took, in milliseconds. */
  readonly onCollected?: (ms: number) => void;
  /** The heap's committed size (V8's total_heap_size); without it every quiet time collects. */
  readonly heapBytes?: () => number;
  /** Least growth of `heapBytes` since the last collection for the next one to run. */
  readonly minGrowthBytes?: number;
}

/**
 * Growth of the committed heap below which a quiet time does not collect (see above). A few
 * requests move it by a few megabytes: the collection leaves the young generation at 1 MiB, the
 * first scavenge after it doubles that, and when the first requests after a collection keep much
 * alive through a scavenge (they build again what the collection threw away) V8 doubles it once
 * more, to 4 MiB; the code they compile takes pages of its own. Twelve requests in four rounds
 * after the start's collection, per space (2026-12-04, eleven runs, six with both cores busy): the
 * young generation 1 to 2 MiB in ten, 1 to 4 MiB in one, everything else 0.75 to 1.75 MiB; so 1.75
 * to 3.5 MiB in all here, and 4 MiB or more in one CI run, where a limit of 4 MiB let a collection
 * through. 6 MiB is above a young generation doubled twice with the rest; a load that fills the
 * young generation (8 MiB) passes it, as 2,000 requests over 4 connections do (7 MiB grown, 4.5
 * MiB of anonymous memory given back).
 */
export const IDLE_COLLECTION_MIN_GROWTH_BYTES = 6 * 1024 * 1024;

export interface IdleCollection {
  /** Something grew memory without starting work (a new config): collect at the next quiet time. */
  dirty(): void;
  stop(): void;
}

/**
 * Checks every quietMs / 2. A check that sees work started since the one before knows the last
 * piece started at most then; a collection runs at the second check after it that sees none (a
 * whole quiet time later; the start counts as such a check), so between one and one and a half
 * quiet times after the last piece of work.
 */
export function startIdleCollection(options: IdleCollectionOptions): IdleCollection {
  const { started, quietMs, minGapMs, collect, onCollected, heapBytes } = options;
  const minGrowth = options.minGrowthBytes ?? IDLE_COLLECTION_MIN_GROWTH_BYTES;
  if (!(quietMs > 0)) return { dirty() {}, stop() {} };
  let seen = started();
  /** Checks in a row that saw no work started since the one before. */
  let quietChecks = 0;
  let pending = true; // what the start allocated is the first thing to give back
  let last = Number.NEGATIVE_INFINITY;
  /** The committed heap right after the last collection; none before the first. */
  let leftAt: number | undefined;
  const timer = setInterval(
    () => {
      const now = started();
      if (now !== seen) {
        seen = now;
        quietChecks = 0;
        pending = true;
        return;
      }
      quietChecks++;
      const at = performance.now();
      if (!pending || quietChecks < 2 || at - last < minGapMs) return;
      pending = false;
      if (heapBytes && leftAt !== undefined && heapBytes() - leftAt < minGrowth) return;
      collect();
      last = performance.now();
      leftAt = heapBytes?.();
      onCollected?.(last - at);
    },
    Math.max(1, Math.floor(quietMs / 2)),
  );
  timer.unref();
  return {
    dirty() {
      pending = true;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's memory-reducing collection ("last resort": full collections until nothing more is freed,
 * then the young generation shrunk to its least size and the freed pages unmapped), through V8's
 * `gc` extension.
 *
 * V8 defines `gc` in a context created while its `--expose-gc` flag is set. The flag is set for
 * the moment it takes to create one such context, at each collection, and unset at once, rather
 * than given at start: with `--expose-gc` on the command line or in NODE_OPTIONS, Node.js rejects
 * the code cache of its own modules (V8 checks the flags a cache was made with) and compiles each
 * one from source when it is first loaded, 36 modules in a sidecar's start. A module loaded while
 * the flag is set would be compiled so too, so node:vm is loaded before it is set. A process
 * started with `--expose-gc` uses its own `gc`.
 */
export function memoryReducingCollection(): () => void {
  const own = (globalThis as { gc?: Gc }).gc;
  return () => (typeof own === 'function' ? own : extensionGc())(LAST_RESORT);
}

const LAST_RESORT = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const;

function extensionGc(): Gc {
  const { runInNewContext } = process.getBuiltinModule('node:vm');
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
