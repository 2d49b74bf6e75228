export const DEFAULT_BACKOFF = { baseMs: 200, maxMs: 30_000 } as const;

/** Exponential backoff with full jitter: a random delay in [0, min(max, base·2^attempt)], so restarts do not synchronise. */
export function jitteredBackoff(
  attempt: number,
  options: { baseMs: number; maxMs: number } = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
