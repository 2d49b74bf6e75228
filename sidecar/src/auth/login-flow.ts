import type { AuthEventFields, LoginFailure } from '../../../contract/log-events.ts';
import { loginFailedPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';
import { authEvent } from './auth-events.ts';
import type { AuthRuntime } from './auth-runtime.ts';
import { serializeCookie } from './cookies.ts';
import { authorizationUrl, newLoginSecrets, type ProviderClient } from './oidc-client.ts';
import {
  cookieBytes,
  loginCookieBudgetFor,
  type PendingSignIn,
  pendingSignIns,
  signInsToEnd,
} from './pending-sign-ins.ts';

/** How long a started sign-in stays valid (from redirect to provider until the callback). */
export const LOGIN_TTL_SECONDS = 600;
export const CALLBACK_PATH = '/.gatehouse/callback';
export const LOGIN_PATH = '/.gatehouse/login';
/**
 * Where login cookies are sent: the sign-in routes, so that a new sign-in sees those in progress
 * (and ends the oldest past the budget) and the callback finds its own; never the application.
 */
export const LOGIN_COOKIE_PATH = '/.gatehouse/';

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

/** What the names of login cookies start with. */
export function loginCookiePrefix(auth: AuthRuntime): string {
  return `${auth.settings.session.cookieName}_tx_`;
}

/** Name of the login cookie of one sign-in, derived from its state. */
export function loginCookieName(auth: AuthRuntime, state: string): string {
  return loginCookiePrefix(auth) + state.slice(0, 16);
}

/** Set-Cookie for a login cookie (scoped to the sign-in routes); an empty value with 0 ends it. */
export function loginCookie(auth: AuthRuntime, name: string, value: string, maxAge: number): string {
  return serializeCookie(name, value, {
    secure: auth.settings.session.secure,
    path: LOGIN_COOKIE_PATH,
    maxAge,
  });
}

/** The sign-ins in progress whose login cookies came with the request (but `except`). */
export function signInsInProgress(
  scope: RequestScope,
  auth: AuthRuntime,
  now: number,
  except?: string,
): Promise<PendingSignIn[]> {
  return pendingSignIns(
    scope.req.headers.cookie,
    loginCookiePrefix(auth),
    auth.sealer,
    LOGIN_TTL_SECONDS,
    now,
    except,
  );
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
  const name = loginCookieName(auth, secrets.state);
  const pending = await signInsInProgress(scope, auth, tx.t);
  const ended = signInsToEnd(pending, cookieBytes(name, sealed), loginCookieBudgetFor(auth.maxHeaderBytes));
  return redirectTo(
    url.href,
    [
      ...ended.map((old) => loginCookie(auth, old, '', 0)),
      loginCookie(auth, name, sealed, LOGIN_TTL_SECONDS),
    ],
    'login_redirect',
  );
}

/** Sends a page navigation that needs a sign-in to the login route (the provider, or the chooser of several). */
export function loginRedirect(scope: RequestScope, auth: AuthRuntime): LocalResponse {
  const origin = auth.settings.externalOrigin as string;
  const returnPath = scope.query ? `${scope.path}?${scope.query}` : scope.path;
  if (auth.externalHost !== scope.host) {
    // Sign-in runs on the external origin only; its cookies are host-only.
    return redirectTo(origin + returnPath, [], 'login_redirect');
  }
  // Through the login route, with one provider too: the login cookies of sign-ins in progress
  // are sent there, never to the application's paths.
  return redirectTo(`${origin}${LOGIN_PATH}?rd=${encodeURIComponent(returnPath)}`, [], 'login_redirect');
}
