import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { ACR_PARAM, FRESH_PARAM, freshSignInQuery } from '../auth/gateway-paths.ts';
import { startLogin } from '../auth/login-flow.ts';
import { safeReturnPath } from '../auth/return-path.ts';
import { chooserPage, loginFailedPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';

/**
 * `/.gatehouse/login?rd=<path>&idp=<name>&fresh=1&acr=<values>`: signed-in users go straight to
 * the return path; with idp (or a single provider) the sign-in starts; otherwise the chooser page
 * lists the providers. `fresh=1` (for a `signedInWithin` or an `acrValues` policy) signs a
 * signed-in user in again with their provider, asking it for a recent authentication (`max_age`,
 * when the application has a window) and for a step-up, of one of the classes `acr` lists that
 * the application's policies list too (`acr_values`). The return path is accepted only as a
 * same-origin path (see safeReturnPath).
 */
export async function loginRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  const origin = auth.settings.externalOrigin as string;
  const params = new URLSearchParams(scope.query);
  const returnPath = safeReturnPath(params.get('rd'), origin, auth.paths);
  const fresh = params.get(FRESH_PARAM) === '1';
  // A recent authentication asked for (a `signedInWithin` policy): max_age for the provider.
  const maxAge = fresh ? (scope.state.policy.signInWindow ?? undefined) : undefined;
  const acrValues = fresh ? listedAcrValues(params.get(ACR_PARAM), scope.state.policy.acrValues) : [];
  const again = maxAge !== undefined || acrValues.length > 0 ? freshSignInQuery(acrValues) : '';
  if (auth.externalHost !== scope.host) {
    return redirectTo(
      `${origin}${auth.paths.login}?rd=${encodeURIComponent(returnPath)}${again}`,
      [],
      'login_redirect',
    );
  }
  const identity = scope.identity;
  if (identity?.kind === 'user') {
    if (again === '') return redirectTo(origin + returnPath, [], 'gateway');
    // Signed in, and a policy asks for a more recent or a stronger authentication: again with the
    // same provider. One no longer configured cannot give it: then as a first sign-in (any
    // provider, the chooser), never back to the page, which would send the browser here again.
    const own = identity.idp === null ? undefined : auth.providers.get(identity.idp);
    if (own !== undefined && params.get('idp') === null)
      return startLogin(scope, auth, own, returnPath, maxAge, acrValues);
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
    return startLogin(scope, auth, provider, returnPath, maxAge, acrValues);
  }
  if (auth.providers.size === 1) {
    return startLogin(
      scope,
      auth,
      auth.providers.values().next().value as NonNullable<ReturnType<typeof auth.providers.get>>,
      returnPath,
      maxAge,
      acrValues,
    );
  }
  return htmlResponse(
    200,
    chooserPage(auth.providers.values(), returnPath, scope.requestId, auth.paths, again),
    scope.setCookies ?? [],
    'gateway',
  );
}

/**
 * The classes of sign-in `asked` names (space-separated) that the application's policies list
 * (`listed`), each once, in the order asked: a link may name any, but the provider is asked only
 * for classes a policy could want.
 */
function listedAcrValues(asked: string | null, listed: readonly string[]): string[] {
  if (asked === null || listed.length === 0) return [];
  return [...new Set(asked.split(' ').filter((value) => listed.includes(value)))];
}
