import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, jitteredBackoff } from '../../lib/backoff.ts';

describe('jitteredBackoff: full jitter in [0, min(max, base·2^attempt)]', () => {
  const options = { baseMs: 100, maxMs: 5_000 };
  it.each([
    // attempt, random, delay
    [0, 0, 0],
    [0, 0.5, 50],
    [0, 0.999_999, 100],
    [3, 0, 0],
    [3, 0.25, 200],
    [3, 0.999_999, 800],
    [6, 0.5, 2_500], // 6400 capped at 5000
    [60, 0.999_999, 5_000], // huge attempts stay at the cap
  ])('attempt %i with random %f waits %i ms', (attempt, random, delay) => {
    expect(jitteredBackoff(attempt, options, () => random)).toBe(delay);
  });

  it('spreads over the whole range (restarts do not synchronise)', () => {
    const delays = Array.from({ length: 2_000 }, () => jitteredBackoff(4, DEFAULT_BACKOFF));
    const ceiling = DEFAULT_BACKOFF.baseMs * 16;
    expect(Math.min(...delays)).toBeLessThan(ceiling * 0.1);
    expect(Math.max(...delays)).toBeGreaterThan(ceiling * 0.9);
    expect(delays.every((d) => d >= 0 && d <= ceiling)).toBe(true);
  });
});
