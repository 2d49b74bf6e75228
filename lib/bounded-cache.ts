import { LRUCache } from 'lru-cache';

/**
 * A least-recently-used cache of at most `limit` entries whose storage grows with use.
 * lru-cache's `max` allocates every slot when the cache is created (a million-entry bound is tens
 * of megabytes and a fifth of a second at start, in every pod, before a single entry); its
 * `maxSize` with a size of one per entry is the same bound without allocating ahead.
 */
export function boundedCache<K extends {}, V extends {}>(
  limit: number,
  options: { readonly ttlMs?: number } = {},
): LRUCache<K, V> {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`cache limit must be a positive integer: ${limit}`);
  return new LRUCache<K, V>({
    maxSize: limit,
    sizeCalculation: () => 1,
    ...(options.ttlMs !== undefined ? { ttl: options.ttlMs } : {}),
  });
}
