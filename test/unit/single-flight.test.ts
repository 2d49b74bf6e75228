import { describe, expect, it } from 'vitest';
import { singleFlight } from '../../lib/single-flight.ts';

describe('singleFlight', () => {
  it('shares the work of a key while it runs, keeps keys apart, and forgets it once settled', async () => {
    const run = singleFlight<string, number>();
    let calls = 0;
    const work = (value: number) => () => {
      calls += 1;
      return new Promise<number>((r) => setTimeout(() => r(value), 5));
    };
    const [a, b, c] = await Promise.all([run('k', work(1)), run('k', work(2)), run('other', work(3))]);
    expect([a, b, c]).toEqual([1, 1, 3]);
    expect(calls).toBe(2);
    expect(await run('k', work(4))).toBe(4); // settled work is not a cache
    expect(calls).toBe(3);
  });

  it('shares a failure with every waiter, then tries again', async () => {
    const run = singleFlight<string, number>();
    const failing = () => Promise.reject(new Error('down'));
    const waits = [run('k', failing), run('k', () => Promise.resolve(9))];
    for (const w of waits) await expect(w).rejects.toThrow('down');
    expect(await run('k', () => Promise.resolve(9))).toBe(9);
  });
});
