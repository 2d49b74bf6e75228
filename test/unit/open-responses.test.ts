import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemorySink } from '../../lib/log/log-sink.ts';
import type { LiveEnd } from '../../sidecar/src/pipeline/live-deadline.ts';
import { createOpenResponses } from '../../sidecar/src/pipeline/open-responses.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';

// The credentials' ends of the responses in progress share one timer, armed for the earliest
// and re-armed for the next; a response over before its time logs nothing.

const sink = createMemorySink();
let ended: string[] = [];
/** What the proxy does to a request in progress (here: notes it, unless it was over). */
const end = (scope: RequestScope, why: LiveEnd): boolean => {
  if ((scope as unknown as { over: boolean }).over) return false;
  ended.push(`${scope.requestId}:${why.reason}`);
  return true;
};
const scope = (requestId: string, credentialEndsAt: number | null, over = false): RequestScope =>
  ({
    over,
    requestId,
    credentialEndsAt,
    signInAgeCheckAt: null,
    sessionId: `s-${requestId}`,
    sink,
    state: { appLabel: 'wiki', config: { generation: '0000000000000001' } },
    orderPrev: null,
    orderNext: null,
    inOrder: false,
  }) as unknown as RequestScope;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  sink.lines.length = 0;
  ended = [];
});
afterEach(() => vi.useRealTimers());

describe('the responses in progress', () => {
  it('end at their credentials\u2019 ends, earliest first, each with its response_closed line', () => {
    const responses = createOpenResponses(end);
    responses.add(scope('late', 1_000_300));
    responses.add(scope('early', 1_000_100));
    responses.add(scope('anonymous', null));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['early:credential_expired']);
    vi.advanceTimersByTime(200);
    expect(ended).toEqual(['early:credential_expired', 'late:credential_expired']);
    expect(responses.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0); // only one without a credential's end is left
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

  it('log nothing for a response over before its time, nor for one gone from the registry', () => {
    const responses = createOpenResponses(end);
    responses.add(scope('over', 1_000_050, true));
    const gone = scope('gone', 1_000_100);
    responses.add(gone);
    responses.delete(gone);
    expect(responses.size).toBe(1);
    vi.advanceTimersByTime(200);
    expect(ended).toEqual([]);
    expect(sink.lines).toEqual([]);
    expect(responses.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('take a credential that ends weeks ahead without ending it now', () => {
    const responses = createOpenResponses(end);
    responses.add(scope('long', 1_000_000 + 40 * 86_400_000));
    vi.advanceTimersByTime(30 * 86_400_000);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(ended).toEqual(['long:credential_expired']);
  });

  it('end at a recheck those a new config ends, and only those; the policies asked again only when they changed', () => {
    const responses = createOpenResponses(end);
    const kept = scope('kept', null);
    const revoked = scope('revoked', null);
    responses.add(kept);
    responses.add(revoked);
    const closed: string[] = [];
    let evaluated = 0;
    const policy = {
      evaluate: () => {
        evaluated++;
        return { decision: { action: 'deny', reason: 'no_policy_matched' } };
      },
    };
    const state = {
      revocations: { find: (s: { sid: string }) => (s.sid === 's-revoked' ? { name: 'r1' } : undefined) },
      policy,
    };
    // Both were admitted by the engine the new config keeps (it changed only its revocations).
    for (const s of [kept, revoked])
      Object.assign(s, {
        sessionIssuedAt: 1,
        identity: { email: 'a@example.com', sub: 'a', idp: 'dev' },
        policyInput: { path: '/' },
        state: { ...s.state, policy },
      });
    responses.recheck(state as never, (s, why) => closed.push(`${s.requestId}:${why.reason}`));
    expect(closed).toEqual(['revoked:session_revoked']);
    expect(ended).toEqual(['revoked:session_revoked']);
    expect(responses.size).toBe(1);
    expect(evaluated).toBe(0);
    // A new engine is asked, and its deny ends the other.
    const newer = { ...state, policy: { ...policy } };
    responses.recheck(newer as never, (s, why) => closed.push(`${s.requestId}:${why.reason}`));
    expect(closed).toEqual(['revoked:session_revoked', 'kept:policy_changed']);
    expect(evaluated).toBe(1);
    expect(responses.size).toBe(0);
  });
});
