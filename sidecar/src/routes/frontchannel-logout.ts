import type { FrontchannelLogoutRefusalCode } from '../../../contract/log-events.ts';
import { sessionEndAccount } from '../../../contract/session-ends.ts';
import { authEvent, sessionEventFields } from '../auth/auth-events.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import type { Session } from '../auth/session.ts';
import { frameableEmptyPage, type LocalResponse } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';
import { endEverywhere } from './end-everywhere.ts';

/** The longest provider session id taken, as a session end carries it. */
const MAX_SID_LENGTH = 255;

/**
 * GET /.gatehouse/frontchannel-logout?iss=…&sid=… (OpenID Connect Front-Channel Logout 1.0): the
 * identity provider's sign-out page loads it in a hidden frame of the user's browser. Such a
 * request carries no proof (and, from another site, no cookie of ours), so it ends only a
 * provider session this sidecar has seen in a session it opened: every Gatehouse session of it
 * ends here at once and, through the operator or the shared revocations directory, in every
 * sidecar of the application, counted against that account's ends. A `sid` this sidecar never saw
 * ends nothing, so requests with made-up ids cannot fill the application's revocations. `iss` may
 * be left out (Microsoft Entra ID sends `sid` only): then the `sid` is looked for under every
 * provider of the application. Without a `sid` nothing ends: a link on another site must not sign
 * anyone out (logout CSRF). Answers an empty page that may be framed, 200 whether or not a session
 * ended; 400 when the request names no `sid` or an unknown issuer.
 */
export function frontchannelLogoutRoute(scope: RequestScope, auth: AuthRuntime): LocalResponse {
  const query = new URLSearchParams(scope.query);
  const sid = query.get('sid');
  const iss = query.get('iss');
  const refuse = (
    reason: FrontchannelLogoutRefusalCode,
    status: number,
    provider?: string,
  ): LocalResponse => {
    authEvent(scope, 'frontchannel_logout_refused', { reason, ...(provider ? { provider } : {}) });
    return frameableEmptyPage(status, []);
  };
  if (sid === null || sid.length === 0 || sid.length > MAX_SID_LENGTH) return refuse('missing_sid', 400);
  // Issuers are rendered without a trailing slash; some providers name theirs with one.
  const issuer = iss?.replace(/\/$/, '') ?? null;
  const providers = [...auth.providers.values()].filter(
    (p) => issuer === null || p.settings.issuer === issuer,
  );
  if (providers.length === 0) return refuse('unknown_issuer', 400);
  const now = Math.floor(Date.now() / 1000);
  let session: Session | undefined;
  for (const provider of providers) {
    session = auth.sessions.takeProviderSession(provider.settings.name, sid, now);
    if (session !== undefined) break;
  }
  const named = iss === null ? undefined : providers[0]?.settings.name;
  if (session === undefined) return refuse('unknown_session', 200, named);
  endEverywhere(
    scope,
    auth,
    { providerSession: sid, provider: session.idp, before: now, reason: 'front-channel logout' },
    sessionEndAccount(session.idp, session.sub),
  );
  authEvent(scope, 'frontchannel_logout', {
    ...sessionEventFields(session),
    providerSession: sid,
    issuerSent: iss !== null,
  });
  // A provider on the same site as the application gets our cookie sent with the frame: delete
  // it when it is of the session that ended.
  const cookies =
    scope.providerSessionId === sid
      ? auth.sessions.clear(auth.sessions.cookies(scope.req.headers.cookie).names)
      : [];
  return frameableEmptyPage(200, cookies);
}
