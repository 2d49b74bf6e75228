import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { callAt } from '../../lib/call-at.ts';

// A Node.js timer longer than 2^31 - 1 ms fires at once (with a warning): a session of 30 days
// would have ended its tunnels as they opened.

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-12-04T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

const DAY = 86_400_000;

describe('callAt', () => {
  it('waits for a time 30 days ahead in steps, then calls once', () => {
    const fn = vi.fn();
    callAt(Date.now() + 30 * DAY, fn);
    vi.advanceTimersByTime(29 * DAY);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(DAY);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(30 * DAY);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('calls at once for a time already past, and never after a cancel', () => {
    const past = vi.fn();
    callAt(Date.now() - 1, past);
    expect(past).toHaveBeenCalledTimes(1);
    const cancelled = vi.fn();
    const cancel = callAt(Date.now() + 30 * DAY, cancelled);
    vi.advanceTimersByTime(25 * DAY); // past the first step
    cancel();
    vi.advanceTimersByTime(10 * DAY);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
