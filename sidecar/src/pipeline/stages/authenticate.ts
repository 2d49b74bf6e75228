import { HttpError } from '../../../../contract/errors.ts';
import { authEvent, sessionEventFields } from '../../auth/auth-events.ts';
import type { AuthRuntime } from '../../auth/auth-runtime.ts';
import { browserBinding } from '../../auth/browser-binding.ts';
import { serviceTokenIdentity } from '../../auth/machine-identity.ts';
import { type Session, sessionIdentity } from '../../auth/session.ts';
import type { PresentCookies } from '../../auth/session-jar.ts';
import { refreshSession } from '../../auth/session-refresh.ts';
import type { EndedSession, RequestScope } from '../../request-scope.ts';
import { isGatewayPath } from './gateway-routes.ts';

const INVALID_CREDENTIALS = new HttpError(
  'invalid_credentials',
  401,
  'The credentials sent are not valid.',
  undefined,
  { 'www-authenticate': 'Bearer realm="gatehouse", error="invalid_token"' },
);

/** Longest time between two renewals of a session cookie by activity (the idle timer). */
const MAX_TOUCH_INTERVAL_SECONDS = 60;

function serviceToken(scope: RequestScope, auth: AuthRuntime): HttpError | undefined {
  const st = auth.settings.serviceTokens;
  // Node joins repeated headers into one value, so a duplicated id or secret cannot match.
  const id = scope.req.headers[st.clientIdHeader] as string | undefined;
  const secret = scope.req.headers[st.clientSecretHeader] as string | undefined;
  const result = auth.serviceTokens
    ? auth.serviceTokens(id, secret, Date.now())
    : ({ ok: false, reason: 'token_unknown', tokenId: null } as const);
  if (!result.ok) {
    authEvent(scope, 'service_token_failed', { reason: result.reason, tokenId: result.tokenId });
    return INVALID_CREDENTIALS;
  }
  const identity = serviceTokenIdentity(result.tokenId);
  scope.identity = identity;
  scope.credentialEndsAt = result.expiresAt;
  scope.authMethod = 'service-token';
  scope.assertionKey = identity.sub;
  return undefined;
}

async function serviceAccount(
  scope: RequestScope,
  auth: AuthRuntime,
  token: string,
): Promise<HttpError | undefined> {
  const verify = auth.serviceAccounts;
  if (!verify) return undefined;
  const result = await verify(token);
  if (!result.ok) {
    authEvent(scope, 'token_failed', { reason: result.reason, detail: result.detail });
    return INVALID_CREDENTIALS;
  }
  scope.identity = result.identity;
  scope.credentialEndsAt = result.expiresAt;
  scope.authMethod = 'service-account';
  scope.assertionKey = `sa:${result.identity.sub}`;
  return undefined;
}

function signedIn(scope: RequestScope, session: Session): undefined {
  scope.identity = sessionIdentity(session);
  scope.sessionId = session.sid;
  scope.sessionIssuedAt = session.iat;
  scope.credentialEndsAt = session.exp * 1000;
  scope.providerSessionId = session.psid ?? null;
  scope.groupsLeftOut = session.groupsLeftOut === true;
  scope.authMethod = 'oidc';
  scope.assertionKey = `${session.sid}/${session.refreshAt ?? 0}`;
  return undefined;
}

/** Ends a session here (expired or revoked, its event written): refuses it from now on, deletes its cookies; the request goes on anonymous. */
function endSession(
  scope: RequestScope,
  auth: AuthRuntime,
  session: Session,
  present: PresentCookies,
  reason: 'expired' | 'revoked',
): undefined {
  auth.sessions.end(session);
  scope.setCookies = auth.sessions.clear(present.names);
  scope.endedSession = endedSession(session, reason);
  return undefined;
}

/**
 * Whether a session came from the browser it was signed in with. At the root of an https host its
 * cookie is `__Host-`, which only this host can set; under a base path it is `__Secure-`, which a
 * page of any sibling host can set for the parent domain (an attacker's own session, planted to
 * sign the victim in as the attacker), so there the session must carry the browser's binding.
 */
function fromItsBrowser(
  auth: AuthRuntime,
  session: Session,
  cookies: string | string[] | undefined,
): boolean {
  if (auth.paths.base === '' || !auth.settings.session.secure) return true;
  return session.b !== undefined && session.b === browserBinding(auth, cookies);
}

function endedSession(session: Session, reason: EndedSession['reason']): EndedSession {
  return { sessionId: session.sid, reason, sub: session.sub, email: session.email, idp: session.idp };
}

function useSession(
  scope: RequestScope,
  auth: AuthRuntime,
  session: Session | undefined,
  present: PresentCookies,
): Promise<undefined> | undefined {
  if (!session) {
    scope.setCookies = auth.sessions.clear(present.names);
    // Signed out (or ended) here before: a replay of its cookie, refused and tied to it in the log.
    const ended = present.sealed === undefined ? undefined : auth.sessions.endedSession(present.sealed);
    if (ended) scope.endedSession = endedSession(ended, 'signed_out');
    return undefined;
  }
  if (!fromItsBrowser(auth, session, scope.req.headers.cookie)) {
    authEvent(scope, 'session_refused', { reason: 'other_browser', ...sessionEventFields(session) });
    scope.setCookies = auth.sessions.clear(present.names);
    return undefined;
  }
  const now = Math.floor(Date.now() / 1000);
  const settings = auth.settings.session;
  const idleSeconds = Math.floor(settings.idleMs / 1000);
  const lastSeen = auth.sessions.lastSeen(session);
  if (session.exp <= now || now - lastSeen >= idleSeconds) {
    const reason = session.exp <= now ? 'absolute_lifetime' : 'idle_timeout';
    authEvent(scope, 'session_expired', { reason, ...sessionEventFields(session) });
    return endSession(scope, auth, session, present, 'expired');
  }
  const revocation = scope.state.revocations.find(session);
  if (revocation) {
    authEvent(scope, 'session_revoked', {
      ...sessionEventFields(session),
      revocation: revocation.name,
      reason: revocation.reason,
    });
    return endSession(scope, auth, session, present, 'revoked');
  }
  // A request to the gateway's own routes (sign-in, sign-out) only needs to know who is signed
  // in: it neither refreshes the session nor renews its cookie. A sign-out waited for the
  // provider's refresh (10 s when the provider held it), and its answer set the session cookie
  // again after deleting it, the browser keeping a cookie of the session it signed out of.
  if (isGatewayPath(scope)) return signedIn(scope, session);
  if (session.refreshAt !== null && session.refreshAt <= now && session.refreshToken) {
    return refreshSession(scope, auth, session, present.names).then((refreshed) => {
      scope.setCookies = [...refreshed.cookies];
      return refreshed.session ? signedIn(scope, refreshed.session) : undefined;
    });
  }
  if (now - lastSeen >= Math.min(MAX_TOUCH_INTERVAL_SECONDS, Math.ceil(idleSeconds / 4))) {
    const touched: Session = { ...session, seen: now };
    return auth.sessions.store(touched, present.names).then((cookies) => {
      scope.setCookies = cookies;
      return signedIn(scope, touched);
    });
  }
  return signedIn(scope, session);
}

/**
 * Establishes who the caller is, from exactly one credential: service token headers, else a
 * ServiceAccount bearer token (when accepted), else the session cookie. A credential that is
 * present but invalid gets 401 (never a silent fallback to anonymous); an expired or unreadable
 * session cookie is deleted and the request goes on anonymous (policies then decide).
 */
export function authenticate(scope: RequestScope): HttpError | undefined | Promise<HttpError | undefined> {
  const auth = scope.state.auth;
  if (!auth) return undefined;
  const headers = scope.req.headers;
  const st = auth.settings.serviceTokens;
  if (headers[st.clientIdHeader] !== undefined || headers[st.clientSecretHeader] !== undefined) {
    return serviceToken(scope, auth);
  }
  if (auth.serviceAccounts) {
    const authorization = headers.authorization;
    if (authorization !== undefined && /^bearer /i.test(authorization)) {
      return serviceAccount(scope, auth, authorization.slice(7).trim());
    }
  }
  const present = auth.sessions.cookies(headers.cookie);
  if (present.sealed === undefined) {
    if (present.names.length > 0) scope.setCookies = auth.sessions.clear(present.names);
    return undefined;
  }
  const opened = auth.sessions.open(present.sealed);
  if (opened instanceof Promise) return opened.then((session) => useSession(scope, auth, session, present));
  return useSession(scope, auth, opened, present);
}
