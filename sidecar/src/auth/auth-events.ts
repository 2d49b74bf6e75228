import { logAuthEvent } from '../../../contract/event-writer.ts';
import type { AuthEventFields, AuthEventType } from '../../../contract/log-events.ts';
import { capField } from '../../../lib/log/sanitize.ts';
import type { RequestScope } from '../request-scope.ts';
import type { GraphListing } from './graph-groups.ts';
import { acrOf, amrOf } from './identity-document.ts';
import type { Session } from './session.ts';

/** The fields of an auth event that name a session: its provider, subject, email and id. */
export function sessionEventFields(session: Session) {
  return { provider: session.idp, sub: session.sub, email: session.email, sessionId: session.sid };
}

/**
 * How a sign-in authenticated the user, as its login_succeeded event says it: when (the ID
 * token's `auth_time`), with what (`amr`) and of which class (`acr`), each only when the
 * provider said it in a shape the identity JWT would carry. An analyst reads from these whether a
 * session's sign-in took a second factor.
 */
export function signInStrength(session: Pick<Session, 'at' | 'claims'>) {
  const amr = amrOf(session.claims);
  const acr = acrOf(session.claims);
  return {
    ...(session.at !== undefined ? { authenticatedAt: new Date(session.at * 1000).toISOString() } : {}),
    ...(amr !== null ? { amr } : {}),
    ...(acr !== null ? { acr } : {}),
  };
}

/**
 * The `groups_list_failed` event of a listing from Microsoft Graph that failed (`when`: at the
 * sign-in or a refresh of `session`); nothing when there was none or it succeeded.
 */
export function groupsListFailed(
  scope: RequestScope,
  session: Pick<Session, 'idp' | 'sub'>,
  when: 'sign_in' | 'refresh',
  listing: GraphListing | undefined,
): void {
  if (listing === undefined || listing.ok) return;
  authEvent(scope, 'groups_list_failed', {
    provider: session.idp,
    sub: session.sub,
    when,
    reason: listing.reason,
    detail: listing.detail,
  });
}

/**
 * Writes an auth event in the request stream: the event fields plus who and where (app, request
 * id, client IP, user agent), and counts it. Callers pass allowlisted fields only; never tokens
 * or secrets. The metric takes an event's reason only where it is a stable code: a
 * session_revoked event's reason is the revocation's free text, a label per incident.
 */
export function authEvent<T extends AuthEventType>(
  scope: RequestScope,
  type: T,
  fields: AuthEventFields<T>,
): void {
  const ua = scope.req.headers['user-agent'];
  const context = {
    app: scope.state.appLabel,
    requestId: scope.requestId,
    traceId: scope.traceId,
    clientIp: scope.clientIp,
    privateEndpoint: scope.privateEndpoint ?? undefined,
    userAgent: typeof ua === 'string' ? capField(ua, 1024) : null,
  };
  logAuthEvent(scope.sink, type, context, fields);
  const reason = (fields as { reason?: unknown }).reason;
  const coded = type !== 'session_revoked' && typeof reason === 'string';
  scope.metrics?.authEvent(scope.state.appLabel, type, coded ? reason : null);
}
