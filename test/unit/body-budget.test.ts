import { describe, expect, it } from 'vitest';
import { BodyBudget } from '../../lib/body-budget.ts';

describe('BodyBudget', () => {
  it('a peer takes up to its share, all peers up to the total; a refused take takes nothing', () => {
    const seen: number[] = [];
    const budget = new BodyBudget(10, 15, (held) => seen.push(held));
    const a1 = budget.holdFor('a');
    const a2 = budget.holdFor('a');
    const b = budget.holdFor('b');
    expect(a1.take(6)).toBe(true);
    expect(a2.take(5)).toBe(false); // a's share is 10
    expect(a2.take(4)).toBe(true);
    expect(b.take(6)).toBe(false); // 10 + 6 > 15 in all
    expect(b.take(5)).toBe(true);
    expect(budget.heldBytes).toBe(15);
    expect(seen).toEqual([6, 10, 15]);
  });

  it('release gives back everything a hold took, once', () => {
    const budget = new BodyBudget(10, 15);
    const a = budget.holdFor('a');
    const other = budget.holdFor('a');
    expect(a.take(3)).toBe(true);
    expect(a.take(4)).toBe(true);
    expect(other.take(2)).toBe(true);
    a.release();
    a.release();
    expect(budget.heldBytes).toBe(2);
    expect(budget.holdFor('a').take(8)).toBe(true); // 2 + 8: a's share again
    other.release();
    expect(budget.heldBytes).toBe(8);
  });
});
