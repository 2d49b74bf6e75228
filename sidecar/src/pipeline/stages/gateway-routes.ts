import { HttpError } from '../../../../contract/errors.ts';
import type { AuthRuntime } from '../../auth/auth-runtime.ts';
import { ROOT_GATEWAY_PREFIX } from '../../auth/gateway-paths.ts';
import { safeReturnPath } from '../../auth/return-path.ts';
import { notFoundPage, signedOutPage, signOutPage } from '../../http/gateway-pages.ts';
import { htmlResponse, jsonResponse, type LocalResponse, redirectTo } from '../../http/local-response.ts';
import type { RequestScope } from '../../request-scope.ts';
import { backchannelLogoutRoute } from '../../routes/backchannel-logout.ts';
import { callbackRoute } from '../../routes/callback.ts';
import { frontchannelLogoutRoute } from '../../routes/frontchannel-logout.ts';
import { loginRoute } from '../../routes/login.ts';
import { logoutRoute, takeSignOutReturn } from '../../routes/logout.ts';
import { sessionPageRoute } from '../../routes/session-page.ts';
import { userinfoRoute } from '../../routes/userinfo.ts';

/** The answer to a WebSocket handshake under the reserved prefix. */
export const GATEWAY_ROUTE_NOT_UPGRADABLE = new HttpError(
  'upgrade_not_supported',
  400,
  'This address does not accept WebSocket upgrades.',
);

/**
 * Whether a path is under a reserved prefix: the application's (`<base>/.gatehouse/`, where its
 * routes are) or the root's (`/.gatehouse/`). Paths under either are answered by Gatehouse and
 * never reach the application.
 */
export function isGatewayPath(scope: RequestScope): boolean {
  return isReservedPath(scope.path, scope.state.auth?.paths.prefix);
}

/** Whether a canonical path is under the root's reserved prefix or `prefix` (the application's, if any). */
export function isReservedPath(path: string, prefix: string | undefined): boolean {
  return path.startsWith(ROOT_GATEWAY_PREFIX) || (prefix !== undefined && path.startsWith(prefix));
}

/** The `rd` query parameter as a safe same-origin return path; null when absent. */
function requestedReturn(scope: RequestScope, auth: AuthRuntime): string | null {
  const rd = new URLSearchParams(scope.query).get('rd');
  return rd === null
    ? null
    : safeReturnPath(rd, auth.settings.externalOrigin ?? `http://${scope.host}`, auth.paths);
}

/**
 * The signed-out page, only for someone signed out: a browser still signed in goes back to the
 * application. Signing in again leads to the page the user signed out from.
 */
function signedOutRoute(scope: RequestScope, auth: AuthRuntime): LocalResponse {
  const { returnPath, clear } = takeSignOutReturn(scope, auth);
  if (scope.sessionId !== null)
    return redirectTo(`${auth.settings.externalOrigin ?? ''}${returnPath}`, clear, 'gateway');
  return htmlResponse(200, signedOutPage(scope.requestId, returnPath), clear, 'gateway');
}

/**
 * Answers requests under the reserved prefix (sign-in, callback, logout, back-channel and
 * front-channel logout, JWKS, userinfo, the session page) before policies
 * run: they are how a user gets an identity in the first place. Everything else hands on.
 */
export function gatewayRoutes(
  scope: RequestScope,
): LocalResponse | Promise<LocalResponse> | HttpError | undefined {
  if (!isGatewayPath(scope)) return undefined;
  // None of them is a WebSocket: a handshake is refused before a route runs (a callback would
  // otherwise call the provider for an answer that is never sent).
  if (scope.kind === 'upgrade') return GATEWAY_ROUTE_NOT_UPGRADABLE;
  const auth = scope.state.auth;
  const method = scope.req.method;
  const read = method === 'GET' || method === 'HEAD';
  if (auth) {
    const paths = auth.paths;
    switch (scope.path) {
      case paths.jwks:
        if (read) return jsonResponse(200, auth.jwks, 300);
        break;
      case paths.login:
        if (read && auth.settings.externalOrigin !== null) return loginRoute(scope, auth);
        break;
      case paths.callback:
        if (read && auth.settings.externalOrigin !== null) return callbackRoute(scope, auth);
        break;
      case paths.logout:
        // A GET only asks: a link or an image on another site must not sign anyone out.
        if (read)
          return htmlResponse(
            200,
            signOutPage(scope.requestId, paths, requestedReturn(scope, auth)),
            [],
            'gateway',
          );
        if (method === 'POST') return logoutRoute(scope, auth);
        break;
      case paths.backchannelLogout:
        if (method === 'POST') return backchannelLogoutRoute(scope, auth);
        break;
      case paths.frontchannelLogout:
        if (read) return frontchannelLogoutRoute(scope, auth);
        break;
      case paths.prefix:
        if (read) return sessionPageRoute(scope, auth);
        break;
      case paths.userinfo:
        if (read) return userinfoRoute(scope, auth);
        break;
      case paths.signedOut:
        if (read) return signedOutRoute(scope, auth);
        break;
    }
  }
  return htmlResponse(404, notFoundPage(scope.requestId), [], 'rejected', 'not_found');
}
