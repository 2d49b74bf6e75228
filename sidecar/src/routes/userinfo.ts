import type { UserinfoDocument } from '../../../contract/userinfo.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import type { Session } from '../auth/session.ts';
import { LocalResponse } from '../http/local-response.ts';
import { preferredUsername } from '../pipeline/stages/stamp-identity.ts';
import type { RequestScope } from '../request-scope.ts';

/** Headers of every userinfo answer: JSON never cached, never sniffed, nothing to frame. */
const HEADERS = [
  'content-type',
  'application/json',
  'cache-control',
  'no-store',
  'x-content-type-options',
  'nosniff',
] as const;

/**
 * GET /.gatehouse/userinfo: the caller's identity as JSON, for an application's own scripts (a
 * single-page application shows who is signed in and when the session ends without a backend
 * that reads the identity headers) and for a user asking why a page refuses them. Any credential
 * the gateway takes answers (a session, a service token, a ServiceAccount token), whatever the
 * policies say of the application's paths: it tells callers only what they are. A request without
 * one (or with a session that just ended) gets 401 JSON naming the sign-in address, never a
 * redirect. Like the other gateway routes it neither refreshes the session nor renews its idle
 * timer: a page that asks every minute does not keep an idle session alive.
 */
export function userinfoRoute(
  scope: RequestScope,
  auth: AuthRuntime,
): LocalResponse | Promise<LocalResponse> {
  const identity = scope.identity;
  if (identity === null)
    return new LocalResponse(
      401,
      [...HEADERS, 'www-authenticate', 'Bearer realm="gatehouse"'],
      JSON.stringify({
        error: 'authentication_required',
        message: 'Not signed in.',
        login: auth.providers.size > 0 ? auth.paths.login : null,
        requestId: scope.requestId,
      }),
      'denied',
      'authentication_required',
    );
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const answer = (idleEndsAt: number | null) => {
    const document: UserinfoDocument = {
      sub: identity.sub,
      email: identity.email,
      preferred_username: preferredUsername(identity),
      groups: [...auth.forwardedGroups(identity.groups)],
      idp: identity.idp,
      kind: identity.kind,
      sid: scope.sessionId,
      signedInAt: scope.sessionIssuedAt === null ? null : iso(scope.sessionIssuedAt * 1000),
      expiresAt: iso(scope.credentialEndsAt),
      idleExpiresAt: iso(idleEndsAt),
      groupsLeftOut: scope.groupsLeftOut,
    };
    return new LocalResponse(200, HEADERS, JSON.stringify(document), 'gateway');
  };
  if (scope.sessionId === null) return answer(null);
  // The session the request was authenticated with, again from its cookie: the jar has it cached
  // (the stage before just opened it), so this is a lookup.
  const sealed = auth.sessions.cookies(scope.req.headers.cookie).sealed;
  const opened = sealed === undefined ? undefined : auth.sessions.open(sealed);
  const idleEnd = (session: Session | undefined) =>
    session === undefined
      ? null
      : (auth.sessions.lastSeen(session) + Math.floor(auth.settings.session.idleMs / 1000)) * 1000;
  return opened instanceof Promise ? opened.then((s) => answer(idleEnd(s))) : answer(idleEnd(opened));
}
