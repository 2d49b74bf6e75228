import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { MAX_REVOCATIONS } from './config/sidecar-config.ts';

/**
 * A session ended in one sidecar (a sign-out, an identity provider's back-channel or front-channel logout) that
 * every other sidecar of the application must end too. In a cluster the sidecar posts it to the
 * operator (SESSION_ENDS_PATH, with its stream token), which writes an AccessRevocation for the
 * application; standalone, the sidecar writes that AccessRevocation into a shared directory.
 * Exactly one of session, providerSession and subject.
 */
export const SessionEndSchema = Type.Object(
  {
    session: Type.Optional(Type.String({ minLength: 16, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    providerSession: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    /** Sessions signed in at or before this time (epoch seconds) end; for one session, its sign-in time. */
    before: Type.Integer({ minimum: 0 }),
    reason: Type.String({ minLength: 1, maxLength: 512 }),
  },
  { additionalProperties: false },
);

export type SessionEnd = Static<typeof SessionEndSchema>;

/**
 * AccessRevocations covering an application past which its session ends are no longer recorded,
 * by the operator (409) or, standalone, in the shared revocations directory. Each lives until no
 * session it names can be alive (12 h by default), and a sidecar refuses a config of more than
 * MAX_REVOCATIONS (it keeps the one it runs): without this bound the sign-outs of a busy
 * application (or whoever holds one of its pods' tokens, or a user who signs in and out in a
 * loop) pushed it past that, and from then on no revocation reached its sidecars, `gatehouse
 * revoke` included. Past it, an end holds in the sidecar that had it, and 2,000 places stay for
 * the revocations an analyst makes.
 */
export const SESSION_ENDS_UNTIL = MAX_REVOCATIONS - 2_000;

/** Why a session end was not recorded: the application is at SESSION_ENDS_UNTIL. */
export function sessionEndsFull(application: string, holder: string): string {
  return `${SESSION_ENDS_UNTIL} or more revocations cover ${application} (a sidecar takes ${MAX_REVOCATIONS}): this end holds in ${holder}`;
}

/**
 * Live session ends one account may hold in one application (its sign-outs and its provider's
 * logouts). Past it, that account's next end holds in the sidecar that had it only, and every
 * other account's ends go on: one user who signs in and out in a loop, or a synthetic monitor
 * that signs in and out every minute (720 ends in a 12-hour lifetime), can no longer fill the
 * application's SESSION_ENDS_UNTIL and stop the sign-outs of everyone else. Each end lives until no
 * session it names can be alive, so the account has its places back as they expire.
 */
export const SESSION_ENDS_PER_ACCOUNT = 50;

/**
 * Whose session an end is, as its report names it: the first 32 hex digits of SHA-256 over the
 * provider and the subject (a key to count by, not a name: labels take no email address).
 */
export function sessionEndAccount(provider: string, subject: string): string {
  return createHash('sha256').update(`${provider}\u0000${subject}`).digest('hex').slice(0, 32);
}

/** What sessionEndAccount gives; anything else in a report's header is refused. */
export const SESSION_END_ACCOUNT = /^[0-9a-f]{32}$/;

/**
 * The request header in which a sidecar names the account of the end it reports (older operators
 * ignore it, and older sidecars send none: their ends count only towards the application's bound).
 */
export const SESSION_END_ACCOUNT_HEADER = 'x-gatehouse-session-end-account';

/** The label on a session end's AccessRevocation (and its file, standalone) naming the account. */
export const SESSION_END_ACCOUNT_LABEL = 'gatehouse.dev/session-end-account';

/** The operator's error code (409) for an end refused as one too many of its account. */
export const ACCOUNT_SESSION_ENDS_FULL = 'account_session_ends_full';

/** Why a session end was not recorded: its account is at SESSION_ENDS_PER_ACCOUNT. */
export function accountSessionEndsFull(application: string, holder: string): string {
  return `this account already has ${SESSION_ENDS_PER_ACCOUNT} session ends in force for ${application}: this end holds in ${holder}`;
}

/** Where a sidecar reports a session end to the operator (POST, JSON, bearer stream token). */
export const SESSION_ENDS_PATH = '/v1/session-ends';

/** Why a session end is malformed; undefined when it is fine (the schema is checked first). */
export function sessionEndProblem(end: SessionEnd): string | undefined {
  const keys = [end.session, end.providerSession, end.subject].filter((k) => k !== undefined);
  if (keys.length !== 1) return 'name exactly one of session, providerSession and subject';
  if (end.providerSession !== undefined && end.provider === undefined)
    return 'providerSession needs provider';
  if (end.session !== undefined && end.provider !== undefined) return 'a session needs no provider';
  return undefined;
}

/** The AccessRevocation spec that carries a session end to every sidecar of one application. */
export function sessionEndRevocationSpec(end: SessionEnd, application: string): Record<string, unknown> {
  return {
    ...(end.session !== undefined ? { session: end.session } : {}),
    ...(end.providerSession !== undefined ? { providerSession: end.providerSession } : {}),
    ...(end.subject !== undefined ? { subject: end.subject } : {}),
    ...(end.provider !== undefined ? { provider: end.provider } : {}),
    applications: [application],
    revokedBefore: new Date(end.before * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
    reason: end.reason,
  };
}

/**
 * The names of the revocations that carry sign-outs and logouts from the provider (a sidecar's own,
 * 16 hex digits; the operator's, 20): never a name `gatehouse revoke` makes (10 after its prefix).
 */
export const SESSION_END_NAME = /^session-end-(?:[0-9a-f]{16}|[0-9a-f]{20})$/;

/**
 * The name of the AccessRevocation that carries a session end for one application: the same end
 * of the same application always gets the same name, so a sidecar that sends it again (its
 * answer lost, or sent again by its next start) finds it recorded instead of adding another.
 */
export function sessionEndRevocationName(end: SessionEnd, application: string): string {
  const named =
    end.session !== undefined
      ? `s\u0000${end.session}`
      : end.providerSession !== undefined
        ? `p\u0000${end.provider ?? ''}\u0000${end.providerSession}`
        : `u\u0000${end.provider ?? ''}\u0000${end.subject ?? ''}\u0000${end.before}`;
  const digest = createHash('sha256').update(`${application}\u0000${named}`).digest('hex');
  return `session-end-${digest.slice(0, 20)}`;
}
