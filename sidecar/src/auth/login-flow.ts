import type { AuthEventFields, LoginFailure } from '../../../contract/log-events.ts';
import { loginFailedPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse, redirectTo } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';
import { authEvent } from './auth-events.ts';
import type { AuthRuntime } from './auth-runtime.ts';
import { bindingForSignIn } from './browser-binding.ts';
import { serializeCookie } from './cookies.ts';
import { freshSignInQuery } from './gateway-paths.ts';
import { authorizationUrl, newLoginSecrets, type ProviderClient } from './oidc-client.ts';
import {
  cookieBytes,
  freeLoginSlot,
  loginCookieBudgetFor,
  loginCookieOfState,
  loginCookieSlots,
  type PendingSignIn,
  pendingSignIns,
  signInsToEnd,
  stateInSlot,
} from './pending-sign-ins.ts';
import { providerErrorDetail } from './provider-errors.ts';
import { SignInReturns } from './sign-in-returns.ts';

/** How long a started sign-in stays valid (from redirect to provider until the callback). */
export const LOGIN_TTL_SECONDS = 600;

/** Where the sign-ins this process started lead, for callbacks whose login cookie is gone. */
export const signInReturns = new SignInReturns(LOGIN_TTL_SECONDS);

/** A sign-in in progress, sealed in its own cookie (one per slot, so several tabs can sign in at once). */
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
  /** the browser's sign-in binding (https only; see browser-binding.ts) */
  readonly b?: string;
  /** the `max_age` asked of the provider (a fresh sign-in, FRESH_PARAM), seconds */
  readonly m?: number;
  /** the `acr_values` asked of the provider (a step-up, ACR_PARAM): the ID token's `acr` must be one */
  readonly a?: readonly string[];
}

/** What the names of login cookies start with. */
export function loginCookiePrefix(auth: AuthRuntime): string {
  return `${auth.settings.session.cookieName}_tx_`;
}

/** Name of the login cookie of one sign-in, the slot its state names; undefined when it names none. */
export function loginCookieName(auth: AuthRuntime, state: string): string | undefined {
  return loginCookieOfState(loginCookiePrefix(auth), state);
}

/** Set-Cookie lines that end every sign-in in progress in a browser, whatever came with the request. */
export function endEverySignIn(auth: AuthRuntime): string[] {
  return loginCookieSlots(loginCookiePrefix(auth)).map((name) => loginCookie(auth, name, '', 0));
}

/**
 * Set-Cookie for a login cookie; an empty value with 0 ends it. Login cookies are sent to the
 * gateway's routes (`<base>/.gatehouse/`) only, so that a new sign-in sees those in progress (and
 * ends the oldest past the budget) and the callback finds its own; never to the application.
 */
export function loginCookie(auth: AuthRuntime, name: string, value: string, maxAge: number): string {
  return serializeCookie(name, value, {
    secure: auth.settings.session.secure,
    path: auth.paths.prefix,
    maxAge,
  });
}

/**
 * The answer's cookies and page when a request head was too large for the sidecar to read: on
 * the sign-in routes (or where the refused head does not say its path), every sign-in in progress
 * in the browser ends, and the "Sign-in failed" page says so and leads back to the application.
 * Tabs that started their sign-ins at the same moment did not see each other's login cookies, so
 * together they can pass the head limit; without this every sign-in route of that browser was
 * refused 431 until they expired ten minutes later. Null elsewhere, or when the application
 * signs nobody in.
 */
export function signInsEndedByOverflow(
  auth: AuthRuntime | null,
  target: string,
): { readonly cookies: string[]; page(requestId: string): string } | null {
  if (auth?.externalHost == null) return null;
  if (target.startsWith('/') && !target.startsWith(auth.paths.prefix)) return null;
  return {
    cookies: endEverySignIn(auth),
    page: (requestId) =>
      loginFailedPage(
        'This browser had more sign-ins in progress than fit in one request, so they were ended. Open the application again to sign in.',
        requestId,
        auth.paths.home,
      ),
  };
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
  returnPath = scope.state.auth?.paths.home ?? '/',
): LocalResponse {
  authEvent(scope, 'login_failed', { reason, ...fields });
  scope.errorCause = reason;
  return htmlResponse(
    status,
    loginFailedPage(message, scope.requestId, returnPath),
    cookies,
    'denied',
    'login_failed',
  );
}

/**
 * Starts a sign-in with a provider: seals state, nonce and PKCE verifier, redirects to the
 * provider; `maxAge`: asks it for an authentication at most that many seconds old (a fresh
 * sign-in), which the callback then requires of the ID token's `auth_time`; `acrValues`: asks it
 * for an authentication of one of these classes (a step-up), which the callback then requires of
 * the ID token's `acr`.
 */
export async function startLogin(
  scope: RequestScope,
  auth: AuthRuntime,
  provider: ProviderClient,
  returnPath: string,
  maxAge?: number,
  acrValues: readonly string[] = [],
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
        detail: providerErrorDetail(error),
      },
      [],
      returnPath,
    );
  }
  const t = Math.floor(Date.now() / 1000);
  const binding = bindingForSignIn(auth, scope.req.headers.cookie);
  const pending = await signInsInProgress(scope, auth, t);
  const name = freeLoginSlot(pending, loginCookiePrefix(auth));
  const drawn = await newLoginSecrets();
  const secrets = { ...drawn, state: stateInSlot(name, drawn.state) };
  signInReturns.remember(secrets.state, returnPath);
  const origin = auth.settings.externalOrigin as string;
  const url = await authorizationUrl(
    config,
    provider.settings,
    origin + auth.paths.callback,
    secrets,
    maxAge,
    acrValues,
  );
  const tx: LoginTransaction = {
    s: secrets.state,
    n: secrets.nonce,
    v: secrets.verifier,
    p: provider.settings.name,
    r: returnPath,
    t,
    ...(binding ? { b: binding.value } : {}),
    ...(maxAge !== undefined ? { m: maxAge } : {}),
    ...(acrValues.length > 0 ? { a: acrValues } : {}),
  };
  const sealed = await auth.sealer.seal('login', tx);
  // The sign-in whose slot this one takes ends by being replaced, not by a second Set-Cookie.
  const others = pending.filter((p) => p.name !== name);
  const ended = signInsToEnd(others, cookieBytes(name, sealed), loginCookieBudgetFor(auth.maxHeaderBytes));
  return redirectTo(
    url.href,
    [
      ...ended.map((old) => loginCookie(auth, old, '', 0)),
      loginCookie(auth, name, sealed, LOGIN_TTL_SECONDS),
      ...(binding?.setCookie ? [binding.setCookie] : []),
    ],
    'login_redirect',
  );
}

/**
 * Sends a page navigation that needs a sign-in to the login route (the provider, or the chooser of
 * several); `fresh`: the sign-in asks the provider for a recent authentication (FRESH_PARAM), for a
 * `signedInWithin` policy: a signed-in user whose authentication is older than it asks, or a first
 * sign-in that such a policy asked for; `acrValues`: and for one of these classes (a step-up, for
 * an `acrValues` policy).
 */
export function loginRedirect(
  scope: RequestScope,
  auth: AuthRuntime,
  fresh = false,
  acrValues: readonly string[] = [],
): LocalResponse {
  const origin = auth.settings.externalOrigin as string;
  const returnPath = scope.query ? `${scope.path}?${scope.query}` : scope.path;
  if (auth.externalHost !== scope.host) {
    // Sign-in runs on the external origin only; its cookies are host-only.
    return redirectTo(origin + returnPath, [], 'login_redirect');
  }
  // Through the login route, with one provider too: the login cookies of sign-ins in progress
  // are sent there, never to the application's paths.
  return redirectTo(
    `${origin}${auth.paths.login}?rd=${encodeURIComponent(returnPath)}${fresh ? freshSignInQuery(acrValues) : ''}`,
    [],
    'login_redirect',
  );
}
