import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientConnection, RequestTimeout } from '../../sidecar/src/net/client-connection.ts';
import { type ClientRateLimits, createClientRateCheck } from '../../sidecar/src/net/client-rate-check.ts';

// The minimum response rate: each span of the idle timeout that a response waits on its client,
// the client must take the minimum rate on average; the span starts once the response is found
// waiting (the kernel buffers full), and again when the client has caught up.

const LIMITS: ClientRateLimits = {
  bodyTimeoutMs: 20_000,
  bodyMinRate: 500,
  requestTimeoutMs: 0,
  sendMinRate: 500,
  idleTimeoutMs: 10_000,
  sendContendedRate: 65_536,
};

/** A connection whose response has started; `waiting` and the kernel's progress are set by hand. */
function responding() {
  const timeouts: string[] = [];
  const state = { waiting: true, taken: 0, wanted: false };
  const connection = {
    socket: {
      get bytesWritten() {
        return state.taken + 65_536;
      },
      writableLength: 65_536,
      bytesRead: 0,
    },
    bytesReadMark: 0,
    bytesWrittenMark: 0,
    readingMs: 0,
    sendSpanStartMs: -1,
    sendSpanTaken: 0,
    current: {
      startedAtMs: 0,
      reading: () => 'done' as const,
      waitsOnClient: () => state.waiting,
      upstreamWanted: () => state.wanted,
      timeout: (reason: RequestTimeout, why: string) => timeouts.push(`${reason}:${why}`),
      broken: () => undefined,
      peerEnded: () => undefined,
    },
  } as unknown as ClientConnection;
  return { connection, state, timeouts };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
});
afterEach(() => vi.useRealTimers());

describe('the minimum response rate', () => {
  const cases: [string, number, boolean, number | null, string | null][] = [
    // bytes the client takes each second while its response waits, whether another caller waits
    // for its upstream connection → the second it is cut (or never), and why
    ['takes nothing', 0, false, 11, 'under_min_rate'],
    ['a trickle: 64 bytes a second', 64, false, 11, 'under_min_rate'],
    ['just under the rate', 499, false, 11, 'under_min_rate'],
    ['the rate', 500, false, null, null],
    ['a slow phone: 8 KiB a second', 8_192, false, null, null],
    ['8 KiB a second while a request waits for its connection', 8_192, true, 6, 'upstream_wanted'],
    ['a trickle while a request waits: cut at 5 s, not at the idle timeout', 64, true, 6, 'upstream_wanted'],
    ['1 MB a second while a request waits', 1_000_000, true, null, null],
  ];
  it.each(cases)('%s', (_name, perSecond, wanted, cutAt, why) => {
    const { connection, state, timeouts } = responding();
    state.wanted = wanted;
    const check = createClientRateCheck(() => [connection], LIMITS);
    check.whileActive();
    let cut: number | null = null;
    for (let second = 1; second <= 40 && cut === null; second++) {
      state.taken += perSecond;
      vi.advanceTimersByTime(1_000);
      if (timeouts.length > 0) cut = second;
    }
    check.close();
    expect(cut).toBe(cutAt);
    expect(timeouts).toEqual(why === null ? [] : [`response_read_too_slow:${why}`]);
  });

  it('the kernel buffers filled before the response was found waiting are not counted as taken', () => {
    const { connection, state, timeouts } = responding();
    state.taken = 4 * 1024 * 1024; // what the buffers took at once, before the first check
    const check = createClientRateCheck(() => [connection], LIMITS);
    check.whileActive();
    vi.advanceTimersByTime(11_000);
    check.close();
    expect(timeouts).toEqual(['response_read_too_slow:under_min_rate']);
  });

  it('a client that catches up starts a new span: a long stall after a fast start is not averaged away, nor held against it while it is caught up', () => {
    const { connection, state, timeouts } = responding();
    const check = createClientRateCheck(() => [connection], LIMITS);
    check.whileActive();
    // Fast for 30 s, caught up now and then.
    for (let second = 1; second <= 30; second++) {
      state.taken += 1_000_000;
      state.waiting = second % 7 !== 0;
      vi.advanceTimersByTime(1_000);
    }
    expect(timeouts).toEqual([]);
    // Caught up and quiet for a minute (a stream between events): nothing to judge.
    state.waiting = false;
    vi.advanceTimersByTime(60_000);
    expect(timeouts).toEqual([]);
    // The check stopped meanwhile. Then it stops reading while the response waits on it: the
    // back-pressure starts the check again.
    expect(vi.getTimerCount()).toBe(0);
    state.waiting = true;
    check.whileActive();
    vi.advanceTimersByTime(11_000);
    expect(timeouts).toEqual(['response_read_too_slow:under_min_rate']);
    check.close();
  });

  it('is off with both rates at 0, and with the idle timeout off; the check stops when nothing waits', () => {
    for (const limits of [
      { ...LIMITS, sendMinRate: 0, sendContendedRate: 0 },
      { ...LIMITS, idleTimeoutMs: 0 },
    ]) {
      const { connection, timeouts } = responding();
      const check = createClientRateCheck(() => [connection], limits);
      check.whileActive();
      vi.advanceTimersByTime(60_000);
      expect(timeouts).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
      check.close();
    }
    const { connection, state } = responding();
    const check = createClientRateCheck(() => [connection], LIMITS);
    check.whileActive();
    vi.advanceTimersByTime(3_000);
    expect(vi.getTimerCount()).toBe(1);
    state.waiting = false;
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
    check.close();
  });
});
