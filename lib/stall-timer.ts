/**
 * Aborts a long-lived stream that has gone silent: arm() on every sign of life; when none comes
 * within ms, `stalled` turns true and the controller is aborted (the reader then sees an abort
 * error and tells a stall from a shutdown by `stalled`).
 */
export function stallTimer(ms: number, abort: AbortController) {
  let timer: NodeJS.Timeout | undefined;
  let stalled = false;
  return {
    arm(): void {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        abort.abort();
      }, ms);
    },
    clear(): void {
      clearTimeout(timer);
    },
    get stalled(): boolean {
      return stalled;
    },
  };
}
