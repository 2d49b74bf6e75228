import type { AuthEventFields, LoginFailure } from '../../../contract/log-events.ts';
import { loginFailedPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';
import { authEvent } from './auth-events.ts';
import type { AuthRuntime } from './auth-runtime.ts';
import { serializeCookie } from './cookies.ts';
import { authorizationUrl, newLoginSecrets, type ProviderClient } from './oidc-client.ts';

/** How long a started sign-in stays valid (from redirect to provider until the callback). */
export const LOGIN_TTL_SECONDS = 600;
export const CALLBACK_PATH = '/.gatehouse/callback';
export const LOGIN_PATH = '/.gatehouse/login';

/** A sign-in in progress, sealed in its own cookie (one per state, so several tabs can sign in at once). */
export interface LoginTransaction {
  /** state, nonce, PKCE verifier */
  readonly s: string;
  readonly n: string;
  readonly v: string;
  /** provider name */
  readonly p: string;
  /** return path (same origin) */
  readonly r: string;
  /** started at, epoch seconds */
  readonly t: number;
}

/** Name of the login cookie of one sign-in, derived from its state. */
export function loginCookieName(auth: AuthRuntime, state: string): string {
  return `${auth.settings.session.cookieName}_tx_${state.slice(0, 16)}`;
}

/** Set-Cookie for a login cookie (scoped to the callback path). */
export function loginCookie(auth: AuthRuntime, state: string, value: string, maxAge: number): string {
  return serializeCookie(loginCookieName(auth, state), value, {
    secure: auth.settings.session.secure,
    path: CALLBACK_PATH,
    maxAge,
  });
}

/** A failed sign-in: the auth event, and a clear page with the given status and message. */
export function loginFailure(
  scope: RequestScope,
  status: number,
  reason: LoginFailure,
  message: string,
  fields: Omit<AuthEventFields<'login_failed'>, 'reason'>,
  cookies: readonly string[] = [],
  returnPath = '/',
): LocalResponse {
  authEvent(scope, 'login_failed', { reason, ...fields });
  return htmlResponse(
    status,
    loginFailedPage(message, scope.requestId, returnPath),
    cookies,
    'denied',
    'login_failed',
  );
}

/** Starts a sign-in with a provider: seals state, nonce and PKCE verifier, redirects to the provider. */
export async function startLogin(
  scope: RequestScope,
  auth: AuthRuntime,
  provider: ProviderClient,
  returnPath: string,
): Promise<LocalResponse> {
  let config: Awaited<ReturnType<ProviderClient['configuration']>>;
  try {
    config = await provider.configuration();
  } catch (error) {
    return loginFailure(
      scope,
      502,
      'provider_unavailable',
      'The identity provider cannot be reached. Try again later.',
      {
        provider: provider.settings.name,
        detail: String((error as Error).message).slice(0, 300),
      },
      [],
      returnPath,
    );
  }
  const secrets = await newLoginSecrets();
  const origin = auth.settings.externalOrigin as string;
  const url = await authorizationUrl(config, provider.settings, origin + CALLBACK_PATH, secrets);
  const tx: LoginTransaction = {
    s: secrets.state,
    n: secrets.nonce,
    v: secrets.verifier,
    p: provider.settings.name,
    r: returnPath,
    t: Math.floor(Date.now() / 1000),
  };
  const sealed = await auth.sealer.seal('login', tx);
  return redirectTo(
    url.href,
    [loginCookie(auth, secrets.state, sealed, LOGIN_TTL_SECONDS)],
    'login_redirect',
  );
}

/** Sends a page navigation that needs a sign-in to the provider (one) or the chooser (several). */
export function loginRedirect(
  scope: RequestScope,
  auth: AuthRuntime,
): LocalResponse | Promise<LocalResponse> {
  const origin = auth.settings.externalOrigin as string;
  const returnPath = scope.query ? `${scope.path}?${scope.query}` : scope.path;
  if (auth.externalHost !== scope.host) {
    // Sign-in runs on the external origin only; its cookies are host-only.
    return redirectTo(origin + returnPath, [], 'login_redirect');
  }
  if (auth.providers.size === 1) {
    return startLogin(scope, auth, auth.providers.values().next().value as ProviderClient, returnPath);
  }
  return redirectTo(`${origin}${LOGIN_PATH}?rd=${encodeURIComponent(returnPath)}`, [], 'login_redirect');
}
