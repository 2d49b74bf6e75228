import { describe, expect, it } from 'vitest';
import { boundedCache } from '../../lib/bounded-cache.ts';

describe('boundedCache', () => {
  it('keeps at most its limit, dropping the least recently used first', () => {
    const cache = boundedCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('d', 4);
    expect([...cache.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(cache.size).toBe(3);
    for (let i = 0; i < 1000; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect([...cache.keys()].sort()).toEqual(['k997', 'k998', 'k999']);
  });

  it('forgets an entry after its time to live', async () => {
    const cache = boundedCache<string, true>(10, { ttlMs: 40 });
    cache.set('jti', true);
    expect(cache.get('jti')).toBe(true);
    await new Promise((r) => setTimeout(r, 120));
    expect(cache.get('jti')).toBeUndefined();
  });

  it('allocates nothing ahead: a million-entry bound costs no memory until used', () => {
    const before = process.memoryUsage();
    const caches = Array.from({ length: 4 }, () => boundedCache<string, true>(1_000_000));
    const after = process.memoryUsage();
    const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    // lru-cache's `max: 1_000_000` allocates about 28 MB per cache at once (two arrays of a million
    // slots, two index arrays, a free-slot stack).
    expect(grown).toBeLessThan(4 * 1024 * 1024);
    expect(caches).toHaveLength(4);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %s', (limit) => {
    expect(() => boundedCache(limit)).toThrow(RangeError);
  });
});
