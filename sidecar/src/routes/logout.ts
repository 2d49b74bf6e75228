import { sessionEndAccount } from '../../../contract/session-ends.ts';
import { authEvent, sessionEventFields } from '../auth/auth-events.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { readCookies, serializeCookie } from '../auth/cookies.ts';
import { EVERYWHERE_PARAM } from '../auth/gateway-paths.ts';
import { buildEndSessionUrl } from '../auth/oidc-client.ts';
import { safeReturnPath } from '../auth/return-path.ts';
import { crossSiteSignOutPage, leavingPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import { fromSameOrigin } from '../http/same-origin.ts';
import type { RequestScope } from '../request-scope.ts';
import { endEverywhere } from './end-everywhere.ts';

/** How long the page to come back to after a sign-out is kept (through the provider's own sign-out). */
const RETURN_COOKIE_SECONDS = 600;

const returnCookieName = (auth: AuthRuntime) => `${auth.settings.session.cookieName}_rd`;

/**
 * The page to come back to after a sign-out (a cookie set by the sign-out, since the provider's
 * end-session redirect carries no state), and the Set-Cookie that forgets it.
 */
export function takeSignOutReturn(
  scope: RequestScope,
  auth: AuthRuntime,
): { returnPath: string; clear: string[] } {
  const name = returnCookieName(auth);
  const value = readCookies(scope.req.headers.cookie, name).get(name);
  if (value === undefined) return { returnPath: auth.paths.home, clear: [] };
  const origin = auth.settings.externalOrigin ?? `http://${scope.host}`;
  let decoded = auth.paths.home;
  try {
    decoded = decodeURIComponent(value);
  } catch {}
  return {
    returnPath: safeReturnPath(decoded, origin, auth.paths),
    clear: [
      serializeCookie(name, '', {
        path: auth.paths.signedOut,
        secure: auth.settings.session.secure,
        maxAge: 0,
      }),
    ],
  };
}

/**
 * POST /.gatehouse/logout, from a page of this site only (a cross-site POST is refused and ends
 * nothing): the session's cookies are deleted, its id is refused here at once and, through the
 * operator or the shared revocations directory, by every sidecar of the application; a logout
 * event is written, and the browser goes on to the provider's end-session endpoint when it has
 * one (with id_token_hint), else to the signed-out page. With `?everywhere=1` every session of the
 * account (its subject at its provider) signed in until now ends so, in every browser and device:
 * the way a user whose laptop was stolen ends the thief's session from another device.
 */
export async function logoutRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  if (!fromSameOrigin(scope.req.headers, scope.host, auth.settings.externalOrigin)) {
    authEvent(scope, 'logout_refused', {
      reason: 'cross_site_request',
      origin: scope.req.headers.origin ?? null,
      fetchSite: scope.req.headers['sec-fetch-site'] ?? null,
    });
    return htmlResponse(
      403,
      crossSiteSignOutPage(scope.requestId, auth.paths),
      [],
      'rejected',
      'cross_site_request',
    );
  }
  const present = auth.sessions.cookies(scope.req.headers.cookie);
  const session = present.sealed === undefined ? undefined : await auth.sessions.open(present.sealed);
  const origin = auth.settings.externalOrigin ?? `http://${scope.host}`;
  const query = new URLSearchParams(scope.query);
  const rd = query.get('rd');
  const everywhere = query.get(EVERYWHERE_PARAM) === '1';
  const cookies = [
    ...auth.sessions.clear(present.names),
    ...(rd === null
      ? []
      : [
          serializeCookie(
            returnCookieName(auth),
            encodeURIComponent(safeReturnPath(rd, origin, auth.paths)),
            {
              path: auth.paths.signedOut,
              secure: auth.settings.session.secure,
              maxAge: RETURN_COOKIE_SECONDS,
            },
          ),
        ]),
  ];
  let location = origin + auth.paths.signedOut;
  if (session) {
    auth.sessions.end(session);
    // The sign-out's line first: ending everywhere applies its revocation here at once, and that
    // line (revocation_applied) must not read as what ended this session.
    authEvent(scope, 'logout', { ...sessionEventFields(session), ...(everywhere ? { everywhere } : {}) });
    endEverywhere(
      scope,
      auth,
      everywhere
        ? {
            subject: session.sub,
            provider: session.idp,
            before: Math.floor(Date.now() / 1000),
            reason: 'signed out on every device',
          }
        : { session: session.sid, before: session.iat, reason: 'signed out' },
      sessionEndAccount(session.idp, session.sub),
    );
    const provider = auth.providers.get(session.idp);
    try {
      const config = provider ? await provider.configuration() : undefined;
      if (config?.serverMetadata().end_session_endpoint) {
        location = (
          await buildEndSessionUrl(config, {
            post_logout_redirect_uri: origin + auth.paths.signedOut,
            client_id: provider?.settings.clientId ?? '',
            ...(session.idToken ? { id_token_hint: session.idToken } : {}),
          })
        ).href;
      }
    } catch {
      // The provider is unreachable: the local session is over regardless.
    }
  }
  // After a form POST, a redirect to another origin would be held to this page's form-action;
  // the provider's sign-out is reached through a page instead.
  if (!location.startsWith(`${origin}/`))
    return htmlResponse(200, leavingPage(location, scope.requestId), cookies, 'gateway');
  return redirectTo(location, cookies, 'gateway', 303);
}
