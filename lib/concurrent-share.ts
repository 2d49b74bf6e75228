/**
 * How many of something run at once: at most `perKey` for one key (a client address) and `total`
 * in all. What a client may hold while it runs (a connection, a body being read) is bounded by
 * its share, whatever the number of connections it opens.
 */
export class ConcurrentShare {
  readonly #running = new Map<string, number>();
  #total = 0;
  readonly perKey: number;
  readonly total: number;

  constructor(perKey: number, total: number) {
    this.perKey = perKey;
    this.total = total;
  }

  /** Running now, in all. */
  get running(): number {
    return this.#total;
  }

  /** Starts one for `key`: the function that ends it (safe to call more than once), or null when a bound is reached. */
  enter(key: string): (() => void) | null {
    const mine = this.#running.get(key) ?? 0;
    if (mine >= this.perKey || this.#total >= this.total) return null;
    this.#running.set(key, mine + 1);
    this.#total++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const now = (this.#running.get(key) ?? 1) - 1;
      if (now === 0) this.#running.delete(key);
      else this.#running.set(key, now);
      this.#total--;
    };
  }
}
