import { describe, expect, it } from 'vitest';
import type { AuthRecord, RequestRecord } from '../../audit/src/audit-record.ts';
import { SessionBuilder } from '../../audit/src/sessions.ts';
import { authRecord, requestRecord } from '../helpers/audit-records.ts';

const request = requestRecord;

const event = authRecord;

/** Ada's sign-in to session S1 at 500, through provider session P9 of corp. */
const login = event('login_succeeded', 500, {
  sessionId: 'S1',
  provider: 'corp',
  sub: 'ada',
  email: 'ada@example.com',
  providerSession: 'P9',
});

function session(records: (RequestRecord | AuthRecord)[]) {
  const b = new SessionBuilder();
  for (const r of records) b.add(r);
  return b.sessions().find((s) => s.sessionId === 'S1');
}

describe('how a session ended', () => {
  it.each([
    [
      'a sign-out here, with the revocation that carries it logged a millisecond before',
      [
        event('revocation_applied', 1999, {
          session: 'S1',
          revocation: 'session-end-1',
          revokedBefore: 1000,
        }),
        event('logout', 2000, { sessionId: 'S1' }),
      ],
      'logout',
    ],
    [
      'a sign-out elsewhere (its logout line not among those read)',
      [
        event('revocation_applied', 1999, {
          session: 'S1',
          revocation: 'session-end-1',
          revokedBefore: 1000,
        }),
      ],
      'revoked',
    ],
    [
      'a revocation of the user before a sign-out',
      [
        event('revocation_applied', 1500, {
          email: 'ada@example.com',
          revocation: 'stolen',
          revokedBefore: 1400,
        }),
        event('logout', 2000, { sessionId: 'S1' }),
      ],
      'revoked',
    ],
  ] as const)('%s', (_what, ends, kind) => {
    expect(session([request(1000), ...ends])?.end?.kind).toBe(kind);
  });
});

describe('used after end', () => {
  it.each([
    ['a sign-out here', [event('logout', 2000, { sessionId: 'S1' })], 'logout'],
    [
      'a revocation of the session (a sign-out elsewhere)',
      [
        event('revocation_applied', 2000, {
          session: 'S1',
          revocation: 'session-end-1',
          revokedBefore: 1000,
        }),
      ],
      'revoked',
    ],
    [
      'a logout from the provider of its provider session',
      [
        event('login_succeeded', 500, { sessionId: 'S1', provider: 'corp', providerSession: 'P9' }),
        event('revocation_applied', 2000, {
          providerSession: 'P9',
          provider: 'corp',
          revocation: 'bcl',
          revokedBefore: 1999,
        }),
      ],
      'revoked',
    ],
    ['an expiry', [event('session_expired', 2000, { sessionId: 'S1', reason: 'idle_timeout' })], 'expired'],
  ] as const)('after %s, a request served on any replica is flagged', (_what, ends, kind) => {
    const s = session([request(1000), ...ends, request(3000, { host: 'wiki-b' })]);
    expect(s?.end?.kind).toBe(kind);
    expect(s?.anomalies.map((a) => a.kind)).toEqual(['used_after_end']);
    expect(s?.anomalies[0]?.detail).toContain('GET /p3000 served on wiki-b 1.000 s after the session ended');
  });

  it('a refused replay is tied to the session and is not an anomaly; nothing before the end is flagged', () => {
    const replay = request(3000, {
      sessionId: null,
      identity: null,
      status: 302,
      outcome: 'gateway',
      endedSession: {
        sessionId: 'S1',
        reason: 'signed_out',
        email: 'ada@example.com',
        sub: 'ada',
        idp: 'corp',
      },
    });
    const s = session([request(1000), event('logout', 2000, { sessionId: 'S1' }), replay]);
    expect(s?.requests.map((r) => r.requestId)).toEqual(['r1000', 'r3000']);
    expect(s?.anomalies).toEqual([]);
  });

  it('another session of the same provider session or user is not ended by a one-session revocation', () => {
    const s = session([
      request(1000),
      event('revocation_applied', 2000, { session: 'S2', revocation: 'other', revokedBefore: 1000 }),
      request(3000),
    ]);
    expect(s?.end).toBeNull();
    expect(s?.anomalies).toEqual([]);
  });
});

describe('ends that held in one sidecar only (session_end_unreported)', () => {
  const unreported = (time: number, over: Partial<AuthRecord>) =>
    event('session_end_unreported', time, {
      reason: 'shutting_down',
      error: 'operator answered 503',
      ...over,
    });

  it.each([
    ['a sign-out of the session', { session: 'S1' }, 'the sign-out held in one sidecar only'],
    [
      'a logout from the provider of its provider session',
      { providerSession: 'P9', provider: 'corp' },
      'the logout from the provider held in one sidecar only',
    ],
    [
      'a back-channel logout of its subject',
      { sub: 'ada', provider: 'corp' },
      'the logout from the provider held in one sidecar only',
    ],
  ] as const)('%s: flagged where it was given up, with the way out', (_what, target, says) => {
    const s = session([
      login,
      request(1000),
      event('logout', 2000, { sessionId: 'S1' }),
      unreported(2500, target),
      request(3000, { host: 'wiki-b' }),
    ]);
    expect(s?.anomalies.map((a) => [a.kind, a.time])).toEqual([
      ['end_not_carried', 2500],
      ['used_after_end', 3000],
    ]);
    const detail = s?.anomalies[0]?.detail ?? '';
    expect(detail).toContain(says);
    expect(detail).toContain('(shutting_down: operator answered 503)');
    expect(detail).toContain('gatehouse revoke');
  });

  it('not for another session, another provider, another application, or a session begun after it', () => {
    const s = session([
      login,
      request(1000),
      unreported(900, { session: 'S2' }),
      unreported(900, { providerSession: 'P9', provider: 'other' }),
      unreported(900, { sub: 'ada', provider: 'corp', app: 'corp/other' }),
      unreported(400, { sub: 'ada', provider: 'corp' }),
    ]);
    expect(s?.anomalies).toEqual([]);
  });
});

describe('ends whose first round failed (session_end_delayed): carried only when a later line says so', () => {
  const delayed = (time: number, over: Partial<AuthRecord> = { session: 'S1' }) =>
    event('session_end_delayed', time, { error: 'operator answered 503', ...over });
  const reported = (time: number, over: Partial<AuthRecord> = { session: 'S1' }) =>
    event('session_end_reported', time, over);
  const unreported = (time: number, over: Partial<AuthRecord> = { session: 'S1' }) =>
    event('session_end_unreported', time, { reason: 'shutting_down', ...over });
  const signedOut = [login, request(1000), event('logout', 2000, { sessionId: 'S1' })];
  const flags = (records: (RequestRecord | AuthRecord)[]) =>
    session(records)?.anomalies.map((a) => [a.kind, a.time]);

  it.each([
    [
      'no later line (the sidecar killed before a round got through)',
      [delayed(2100)],
      [['end_not_carried', 2100]],
    ],
    ['reported by a later round', [delayed(2100), reported(9000)], []],
    [
      'given up later: flagged once, where it was given up',
      [delayed(2100), unreported(9000)],
      [['end_not_carried', 9000]],
    ],
    [
      'a report of another session does not carry it',
      [delayed(2100), reported(9000, { session: 'S2' })],
      [['end_not_carried', 2100]],
    ],
    [
      'a report of another application does not carry it',
      [delayed(2100), reported(9000, { session: 'S1', app: 'corp/other' })],
      [['end_not_carried', 2100]],
    ],
    [
      'a report from before it does not carry it',
      [reported(1500), delayed(2100)],
      [['end_not_carried', 2100]],
    ],
    [
      'a back-channel logout of its provider session, reported later',
      [
        delayed(2100, { providerSession: 'P9', provider: 'corp' }),
        reported(5000, { providerSession: 'P9', provider: 'corp' }),
      ],
      [],
    ],
    [
      'a back-channel logout of its provider session, never reported',
      [delayed(2100, { providerSession: 'P9', provider: 'corp' })],
      [['end_not_carried', 2100]],
    ],
    ['of another session: nothing', [delayed(2100, { session: 'S2' })], []],
  ] as const)('%s', (_what, lines, expected) => {
    expect(flags([...signedOut, ...lines])).toEqual(expected);
  });

  it('names the command that ends the session everywhere, to paste', () => {
    const id = 'Qx7_k2-9aZbC3dEfGh1';
    const records = [
      { ...login, sessionId: id },
      request(1000, { sessionId: id }),
      event('logout', 2000, { sessionId: id }),
      delayed(2100, { session: id }),
    ];
    const b = new SessionBuilder();
    for (const r of records) b.add(r);
    const detail = b.sessions()[0]?.anomalies[0]?.detail ?? '';
    expect(detail).toMatch(
      /: end it everywhere with gatehouse revoke --session Qx7_k2-9aZbC3dEfGh1 --app corp\/wiki$/,
    );
    const byProvider = session([...signedOut, delayed(2100, { providerSession: 'P9', provider: 'corp' })]);
    expect(byProvider?.anomalies[0]?.detail).toMatch(
      / with gatehouse revoke --provider-session P9 --provider corp --app corp\/wiki$/,
    );
  });

  it('says what the logs show, and the way out', () => {
    const detail = session([...signedOut, delayed(2100)])?.anomalies[0]?.detail ?? '';
    expect(detail).toBe(
      'the sign-out held in one sidecar only as far as these logs show: its first round did not get through (operator answered 503) and no later line says it did (the sidecar may have been killed first); other replicas may accept the session until it expires: end it everywhere with gatehouse revoke',
    );
  });
});

describe('condensed moves', () => {
  it('a thief and the victim sharing a session: one move to the new IP, the flips counted, not twenty anomalies', () => {
    const requests = Array.from({ length: 21 }, (_, i) =>
      request(1000 + i, { clientIp: i === 0 ? '192.0.2.1' : i % 2 === 1 ? '203.0.113.9' : '192.0.2.1' }),
    );
    const s = session(requests);
    const moves = s?.anomalies.filter((a) => a.kind === 'ip_change') ?? [];
    expect(moves).toHaveLength(1);
    expect(moves[0]?.detail).toBe('moved to 203.0.113.9 (from 192.0.2.1), then 19 changes back and forth');
    expect(moves[0]?.time).toBe(1001);
  });

  it('each new address is its own move', () => {
    const ips = ['192.0.2.1', '198.51.100.2', '198.51.100.2', '203.0.113.3'];
    const s = session(ips.map((clientIp, i) => request(1000 + i, { clientIp })));
    expect(s?.anomalies.map((a) => a.detail)).toEqual([
      'moved to 198.51.100.2 (from 192.0.2.1)',
      'moved to 203.0.113.3 (from 198.51.100.2)',
    ]);
  });
});
