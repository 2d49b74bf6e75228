import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../lib/token-buckets.ts';
import { SESSION_END_RATE } from '../../operator/src/delivery/session-ends-route.ts';

describe('session ends one application may record', () => {
  it('a burst of 600, then 10 a second; each application has its own', () => {
    let now = 0;
    const budget = new TokenBuckets(SESSION_END_RATE, { now: () => now });
    let granted = 0;
    for (let i = 0; i < 1_000; i++) if (budget.take('corp/wiki') === 0) granted++;
    expect(granted).toBe(600);
    expect(budget.take('corp/other')).toBe(0);
    expect(budget.take('corp/wiki')).toBe(1); // the next token is a tenth of a second away
    now += 1_000;
    granted = 0;
    for (let i = 0; i < 100; i++) if (budget.take('corp/wiki') === 0) granted++;
    expect(granted).toBe(10);
    now += 3_600_000;
    granted = 0;
    for (let i = 0; i < 1_000; i++) if (budget.take('corp/wiki') === 0) granted++;
    expect(granted).toBe(600); // refilled to the burst, not beyond
  });
});
