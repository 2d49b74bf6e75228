import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemorySink } from '../../lib/log/log-sink.ts';
import { createOpenResponses, type ResponseEnd } from '../../sidecar/src/pipeline/open-responses.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';

// The credentials' ends of the responses in progress share one timer: armed for the earliest,
// re-armed for the next, gone once no response is open (an idle sidecar is not woken for it).

const sink = createMemorySink();
const scope = (requestId: string, credentialEndsAt: number | null): RequestScope =>
  ({
    requestId,
    credentialEndsAt,
    sessionId: `s-${requestId}`,
    sink,
    state: { appLabel: 'wiki', config: { generation: '0000000000000001' } },
  }) as unknown as RequestScope;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  sink.lines.length = 0;
});
afterEach(() => vi.useRealTimers());

describe('the responses in progress', () => {
  it('end at their credentials\u2019 ends, earliest first, each with its response_closed line', () => {
    const responses = createOpenResponses();
    const ended: string[] = [];
    const end = (id: string) => (why: ResponseEnd) => {
      ended.push(`${id}:${why.reason}`);
      return true;
    };
    responses.add(scope('late', 1_000_300), end('late'));
    responses.add(scope('early', 1_000_100), end('early'));
    responses.add(scope('anonymous', null), end('anonymous'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['early:credential_expired']);
    vi.advanceTimersByTime(200);
    expect(ended).toEqual(['early:credential_expired', 'late:credential_expired']);
    expect(responses.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    expect(sink.lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        type: 'response_closed',
        requestId: 'early',
        reason: 'credential_expired',
        sessionId: 's-early',
      }),
      expect.objectContaining({ type: 'response_closed', requestId: 'late', reason: 'credential_expired' }),
    ]);
  });

  it('hold no timer once the last one is gone, and log nothing for a response already over', () => {
    const responses = createOpenResponses();
    const a = scope('a', 1_000_100);
    responses.add(a, () => false);
    responses.add(scope('b', 1_000_050), () => false);
    vi.advanceTimersByTime(100);
    expect(sink.lines).toEqual([]); // both were over when their time came
    responses.add(a, () => true);
    responses.delete(a);
    expect(responses.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('take a credential that ends weeks ahead without ending it now', () => {
    const responses = createOpenResponses();
    const ended: string[] = [];
    responses.add(scope('long', 1_000_000 + 40 * 86_400_000), () => {
      ended.push('long');
      return true;
    });
    vi.advanceTimersByTime(30 * 86_400_000);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(ended).toEqual(['long']);
  });
});
