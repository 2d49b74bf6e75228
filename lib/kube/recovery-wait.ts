/**
 * Waits out a retry delay after the API server could not be reached, but ends the wait as soon
 * as it answers again: one probe loop per client, running only while someone waits, so every
 * watch restarts within one probe interval of the API server's return instead of at the end of
 * a backoff that grew during the outage.
 */
export class RecoveryWait {
  readonly #probe: () => Promise<boolean>;
  readonly #intervalMs: number;
  readonly #waiters = new Set<(recovered: boolean) => void>();
  #probing = false;

  constructor(probe: () => Promise<boolean>, intervalMs: number) {
    this.#probe = probe;
    this.#intervalMs = intervalMs;
  }

  /**
   * Resolves after ms, when the probe first succeeds, or when the signal aborts, whichever is
   * first: with true when the probe succeeded (the API server is back).
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (recovered: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.#waiters.delete(done);
        resolve(recovered);
      };
      const aborted = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', aborted, { once: true });
      this.#waiters.add(done);
      void this.#loop();
    });
  }

  async #loop(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      while (this.#waiters.size > 0) {
        await new Promise((r) => setTimeout(r, this.#intervalMs).unref());
        if (this.#waiters.size === 0) break;
        if (await this.#probe().catch(() => false)) for (const done of [...this.#waiters]) done(true);
      }
    } finally {
      this.#probing = false;
    }
  }
}
