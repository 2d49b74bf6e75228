import type { AuthRecord } from '../../audit/src/audit-record.ts';

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
