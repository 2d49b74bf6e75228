/** The longest delay a Node.js timer takes (about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once the wall clock reaches `epochMs` (at once when it has), waiting in steps of at
 * most MAX_TIMER_MS so that a time weeks ahead is not taken for now. The timers do not keep the
 * process alive. Returns the cancel.
 */
export function callAt(epochMs: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = (): void => {
    if (cancelled) return;
    const left = epochMs - Date.now();
    if (left <= 0) {
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
