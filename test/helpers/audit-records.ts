import type { AuthRecord, RequestRecord } from '../../audit/src/audit-record.ts';

/** An auth record as the audit reads it, every field null but those given. */
export const authRecord = (
  type: AuthRecord['type'],
  time: number,
  over: Partial<AuthRecord> = {},
): AuthRecord => ({
  kind: 'auth',
  type,
  time,
  app: 'corp/wiki',
  requestId: null,
  sessionId: null,
  email: null,
  sub: null,
  provider: null,
  clientIp: null,
  userAgent: null,
  reason: null,
  revocation: null,
  revokedBefore: null,
  ...over,
});

/** A signed-in request of Ada's session S1 at `start` (epoch ms), as the audit reads it. */
export const requestRecord = (start: number, over: Partial<RequestRecord> = {}): RequestRecord => ({
  kind: 'request',
  start,
  end: start + 5,
  requestId: `r${start}`,
  app: 'corp/wiki',
  host: 'wiki-a',
  method: 'GET',
  uri: `/p${start}`,
  status: 200,
  outcome: 'served',
  clientIp: '192.0.2.1',
  userAgent: 'ua',
  identity: { kind: 'user', sub: 'ada', email: 'ada@example.com', idp: 'corp' },
  sessionId: 'S1',
  decision: null,
  ...over,
});
