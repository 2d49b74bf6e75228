import { boundedCache } from './bounded-cache.ts';

/** A rate per key: a burst of `burst`, refilled at `perSecond`. */
export interface TokenBucketRate {
  readonly burst: number;
  readonly perSecond: number;
}

/**
 * A token bucket per key (an application, a Pod). The keys held are bounded (the least recently
 * used bucket goes first, and a key seen again starts with a full bucket), so keys an attacker
 * makes up cost a bounded amount of memory.
 */
export class TokenBuckets {
  readonly #rate: TokenBucketRate;
  readonly #now: () => number;
  readonly #buckets;

  constructor(
    rate: TokenBucketRate,
    options: { readonly maxKeys?: number; readonly now?: () => number } = {},
  ) {
    if (!(rate.burst >= 1) || !(rate.perSecond > 0))
      throw new RangeError(`a token bucket needs a burst of 1 or more and a positive rate`);
    this.#rate = rate;
    this.#now = options.now ?? (() => performance.now());
    this.#buckets = boundedCache<string, { tokens: number; at: number }>(options.maxKeys ?? 65_536);
  }

  /** Takes one token for `key`: 0 when taken, else the whole seconds until one is there. */
  take(key: string): number {
    const { burst, perSecond } = this.#rate;
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
    bucket.tokens -= 1;
    return 0;
  }
}
