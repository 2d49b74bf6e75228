import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { FRESH_PARAM, startLogin } from '../auth/login-flow.ts';
import { safeReturnPath } from '../auth/return-path.ts';
import { chooserPage, loginFailedPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';

/**
 * `/.gatehouse/login?rd=<path>&idp=<name>`: signed-in users go straight to the return path (with
 * `fresh=1` and a `signedInWithin` policy, they sign in again with their provider, asked for a
 * recent authentication); with idp (or a single provider) the sign-in starts; otherwise the
 * chooser page lists the providers.
 * The return path is accepted only as a same-origin path (see safeReturnPath).
 */
export async function loginRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  const origin = auth.settings.externalOrigin as string;
  const params = new URLSearchParams(scope.query);
  const returnPath = safeReturnPath(params.get('rd'), origin, auth.paths);
  if (auth.externalHost !== scope.host) {
    return redirectTo(
      `${origin}${auth.paths.login}?rd=${encodeURIComponent(returnPath)}`,
      [],
      'login_redirect',
    );
  }
  const identity = scope.identity;
  if (identity?.kind === 'user') {
    // Signed in, and a policy asks for a more recent authentication: again with the same provider.
    const maxAge = scope.state.policy.signInWindow;
    const provider = identity.idp === null ? undefined : auth.providers.get(identity.idp);
    if (params.get(FRESH_PARAM) === '1' && maxAge !== null && provider !== undefined)
      return startLogin(scope, auth, provider, returnPath, maxAge);
    return redirectTo(origin + returnPath, [], 'gateway');
  }
  const idp = params.get('idp');
  if (idp !== null) {
    const provider = auth.providers.get(idp);
    if (!provider) {
      return htmlResponse(
        400,
        loginFailedPage('There is no such sign-in method.', scope.requestId, auth.paths.home),
        [],
        'rejected',
        'login_failed',
      );
    }
    return startLogin(scope, auth, provider, returnPath);
  }
  if (auth.providers.size === 1) {
    return startLogin(
      scope,
      auth,
      auth.providers.values().next().value as NonNullable<ReturnType<typeof auth.providers.get>>,
      returnPath,
    );
  }
  return htmlResponse(
    200,
    chooserPage(auth.providers.values(), returnPath, scope.requestId, auth.paths),
    scope.setCookies ?? [],
    'gateway',
  );
}
