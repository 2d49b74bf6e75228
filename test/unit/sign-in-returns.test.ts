import { describe, expect, it } from 'vitest';
import { SignInReturns } from '../../sidecar/src/auth/sign-in-returns.ts';

describe('the return paths of sign-ins in progress', () => {
  it('gives back where each sign-in leads, and / for a state it never saw', () => {
    const returns = new SignInReturns(600);
    returns.remember('3abc', '/dashboards/7?from=now-6h');
    returns.remember('5def', '/');
    expect(returns.returnPath('3abc')).toBe('/dashboards/7?from=now-6h');
    expect(returns.returnPath('5def')).toBe('/');
    expect(returns.returnPath('7ghi')).toBe('/');
    expect(returns.returnPath('')).toBe('/');
  });

  it('keeps at most its bytes: the oldest sign-ins are forgotten first, a recent lookup keeps one', () => {
    // Each entry: 4 + 196 characters and 100 of overhead, 300 of a 1,000-byte bound.
    const returns = new SignInReturns(600, 1_000);
    const path = (i: number) => `/p${i}/${'x'.repeat(192)}`;
    for (let i = 0; i < 3; i++) returns.remember(`s00${i}`, path(i));
    expect(returns.returnPath('s000')).toBe(path(0));
    returns.remember('s003', path(3));
    expect(['s000', 's001', 's002', 's003'].map((s) => returns.returnPath(s))).toEqual([
      path(0),
      '/',
      path(2),
      path(3),
    ]);
  });

  it('forgets a sign-in once it could no longer finish', async () => {
    const returns = new SignInReturns(0.05);
    returns.remember('3abc', '/reports');
    expect(returns.returnPath('3abc')).toBe('/reports');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(returns.returnPath('3abc')).toBe('/');
  });
});
