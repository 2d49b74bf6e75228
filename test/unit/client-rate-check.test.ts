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
  contendedRate: 65_536,
};

/**
 * A connection whose response has started (or, `uploading`, whose body is being read and no
 * response has started); `waiting`, the kernel's progress and the body received are set by hand.
 */
function responding(uploading = false) {
  const timeouts: string[] = [];
  const state = { waiting: !uploading, taken: 0, received: 0, wanted: false };
  const connection = {
    socket: {
      get bytesWritten() {
        return state.taken + 65_536;
      },
      writableLength: 65_536,
      get bytesRead() {
        return state.received;
      },
    },
    bytesReadMark: 0,
    bytesWrittenMark: 0,
    readingMs: 0,
    sendSpanStartMs: -1,
    sendSpanTaken: 0,
    current: {
      startedAtMs: 0,
      reading: () => (uploading ? ('reading' as const) : ('done' as const)),
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
  const cases: [string, 'response' | 'body', number, boolean, number | null, string | null][] = [
    // what the client takes of its response or sends of its body each second, whether another
    // caller waits for its upstream connection → the second it is cut (or never), and why
    ['takes nothing', 'response', 0, false, 11, 'response_read_too_slow:under_min_rate'],
    ['a trickle: 64 bytes a second', 'response', 64, false, 11, 'response_read_too_slow:under_min_rate'],
    ['just under the rate', 'response', 499, false, 11, 'response_read_too_slow:under_min_rate'],
    ['the rate', 'response', 500, false, null, null],
    ['a slow phone: 8 KiB a second', 'response', 8_192, false, null, null],
    [
      '8 KiB a second while a request waits for its connection',
      'response',
      8_192,
      true,
      6,
      'response_read_too_slow:upstream_wanted',
    ],
    [
      'a trickle while a request waits: cut at 5 s, not at the idle timeout',
      'response',
      64,
      true,
      6,
      'response_read_too_slow:upstream_wanted',
    ],
    ['1 MB a second while a request waits', 'response', 1_000_000, true, null, null],
    ['an upload at 600 B/s while a request waits', 'body', 600, true, 5, 'body_too_slow:upstream_wanted'],
    ['an upload at 600 B/s with nobody waiting: over the body minimum rate', 'body', 600, false, null, null],
    ['an upload at 1 MB/s while a request waits', 'body', 1_000_000, true, null, null],
    [
      'an upload at 100 B/s: the body timeout, whoever waits',
      'body',
      100,
      false,
      26,
      'body_too_slow:undefined',
    ],
  ];
  it.each(cases)('%s', (_name, direction, perSecond, wanted, cutAt, expected) => {
    const { connection, state, timeouts } = responding(direction === 'body');
    state.wanted = wanted;
    const check = createClientRateCheck(() => [connection], LIMITS);
    check.whileActive();
    let cut: number | null = null;
    for (let second = 1; second <= 40 && cut === null; second++) {
      if (direction === 'body') state.received += perSecond;
      else state.taken += perSecond;
      vi.advanceTimersByTime(1_000);
      if (timeouts.length > 0) cut = second;
    }
    check.close();
    expect(cut).toBe(cutAt);
    expect(timeouts).toEqual(expected === null ? [] : [expected]);
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
      { ...LIMITS, sendMinRate: 0, contendedRate: 0 },
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
