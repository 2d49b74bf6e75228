import type { AuthEventFields, LoginFailure } from '../../../contract/log-events.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import { authEvent, groupsListFailed, sessionEventFields, signInStrength } from '../auth/auth-events.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { browserBinding } from '../auth/browser-binding.ts';
import { readCookies } from '../auth/cookies.ts';
import { type GraphListing, withGraphGroups } from '../auth/graph-groups.ts';
import {
  LOGIN_TTL_SECONDS,
  type LoginTransaction,
  loginCookie,
  loginCookieName,
  loginCookiePrefix,
  loginFailure,
  signInReturns,
  signInsInProgress,
} from '../auth/login-flow.ts';
import { authorizationCodeGrant, userClaims } from '../auth/oidc-client.ts';
import { loginCookieRoom, setCookieBytes, signInsToEnd } from '../auth/pending-sign-ins.ts';
import {
  PROVIDER_BUSY_RETRY_AFTER_SECONDS,
  ProviderBusyError,
  ProviderCallCancelled,
  withProviderTurn,
} from '../auth/provider-calls.ts';
import { authTimeRefusal, isProviderUnreachable, providerErrorDetail } from '../auth/provider-errors.ts';
import { authTimeOf, identityFromClaims, newSessionId, type Session } from '../auth/session.ts';
import { SessionTooLarge } from '../auth/session-jar.ts';
import { type LocalResponse, redirectTo, withHeaders } from '../http/local-response.ts';
import { anonymousClaimant, type RequestScope } from '../request-scope.ts';

/** States already redeemed in this process, until their login would have expired anyway. */
const REDEEMED_LIMIT = 100_000;
const redeemed = boundedCache<string, true>(REDEEMED_LIMIT, { ttlMs: LOGIN_TTL_SECONDS * 1000 });

function markRedeemed(state: string): boolean {
  if (redeemed.has(state)) return false;
  redeemed.set(state, true);
  return true;
}

function asTransaction(value: Record<string, unknown> | undefined): LoginTransaction | undefined {
  const v = value as Partial<LoginTransaction> | undefined;
  return v &&
    typeof v.s === 'string' &&
    typeof v.n === 'string' &&
    typeof v.v === 'string' &&
    typeof v.p === 'string' &&
    typeof v.r === 'string' &&
    typeof v.t === 'number' &&
    (v.b === undefined || typeof v.b === 'string') &&
    (v.m === undefined || (typeof v.m === 'number' && Number.isSafeInteger(v.m) && v.m >= 0)) &&
    (v.a === undefined || (Array.isArray(v.a) && v.a.every((acr) => typeof acr === 'string')))
    ? (v as LoginTransaction)
    : undefined;
}

/** Provider error codes are shown and logged only when they look like one (RFC 6749 error syntax). */
function providerErrorCode(value: string | null): string {
  return value && /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(value) ? value : 'unknown_error';
}

/**
 * A call to the provider that did not happen or did not finish for a reason of the moment: no turn
 * (the provider never heard of it), its client gone (the line records 499), or the sidecar about
 * to close the connection. The browser is asked to try again in a few seconds.
 */
function signInToRetry(
  error: unknown,
): { reason: LoginFailure; message: string; detail: string } | undefined {
  if (error instanceof ProviderBusyError)
    return {
      reason: 'provider_busy',
      message: 'Too many sign-ins are in progress. Try again in a few seconds.',
      detail: error.why,
    };
  if (error instanceof ProviderCallCancelled)
    return {
      reason: error.why,
      message: 'The sign-in was interrupted. Try again in a few seconds.',
      detail: error.stage,
    };
  return undefined;
}

/**
 * The OIDC redirect URI. Ends the sign-in started by the login cookie named by `state`: the state
 * must be known, unused and fresh; the code is redeemed with the PKCE verifier; the ID token is
 * checked (signature against the provider JWKS, iss, aud, exp, nonce) by openid-client. Any
 * failure yields no session, a clear page and a login_failed event.
 */
export async function callbackRoute(scope: RequestScope, auth: AuthRuntime): Promise<LocalResponse> {
  const params = new URLSearchParams(scope.query);
  const state = params.get('state');
  const cookies = readCookies(scope.req.headers.cookie, loginCookiePrefix(auth));
  const now = Math.floor(Date.now() / 1000);
  // Where "Try again" leads: the page the sign-in was for, as this process remembers it until
  // its login cookie names it.
  let returnPath = state ? signInReturns.returnPath(state, auth.paths.home) : auth.paths.home;
  const fail = (
    status: number,
    reason: LoginFailure,
    message: string,
    fields: Omit<AuthEventFields<'login_failed'>, 'reason'> = {},
    clear: string[] = [],
  ) => loginFailure(scope, status, reason, message, fields, clear, returnPath);
  if (!state) return fail(400, 'state_missing', 'The sign-in response is incomplete.');
  /**
   * A sign-in that cannot finish before the provider is asked: a failure page, or, when the
   * browser has signed in meanwhile (another tab's sign-in, as when many tabs restored at once
   * replace each other's), straight on to the page this one was for. Either way it is logged.
   */
  const unfinished = (reason: LoginFailure, message: string, clear: string[] = []) => {
    if (scope.identity?.kind !== 'user') return fail(400, reason, message, {}, clear);
    authEvent(scope, 'login_failed', { reason });
    scope.errorCause = reason;
    return redirectTo(
      (auth.settings.externalOrigin as string) + returnPath,
      clear,
      'gateway',
      302,
      'login_failed',
    );
  };
  const notHere = () =>
    unfinished(
      redeemed.has(state) ? 'state_reused' : 'state_unknown',
      'This sign-in was not started in this browser, was replaced by newer sign-ins in it, or is already finished.',
    );
  const name = loginCookieName(auth, state);
  const sealed = name === undefined ? undefined : cookies.get(name);
  if (name === undefined || sealed === undefined) return notHere();
  const clear = [loginCookie(auth, name, '', 0)];
  const tx = asTransaction(await auth.sealer.open('login', sealed));
  if (!tx) return unfinished('state_mismatch', 'The sign-in response does not match this browser.', clear);
  // Its slot holds a newer sign-in, started in another tab: that one goes on.
  if (tx.s !== state) return notHere();
  // Started in another browser (its login cookie put into this one by a sibling host): never
  // finished here, nor its return path followed.
  if (
    auth.settings.session.secure &&
    (tx.b === undefined || tx.b !== browserBinding(auth, scope.req.headers.cookie))
  )
    return unfinished(
      'browser_mismatch',
      'This sign-in was not started in this browser, or a newer one in it replaced it. Open the application again to sign in.',
      clear,
    );
  returnPath = tx.r;
  if (now - tx.t > LOGIN_TTL_SECONDS)
    return unfinished('login_expired', 'The sign-in took too long. Please try again.', clear);
  if (!markRedeemed(state)) return unfinished('state_reused', 'This sign-in is already finished.', clear);
  const provider = auth.providers.get(tx.p);
  if (!provider)
    return fail(
      400,
      'provider_unknown',
      'The identity provider is no longer configured.',
      { provider: tx.p },
      clear,
    );
  const providerField = { provider: tx.p };
  if (params.has('error')) {
    const code = providerErrorCode(params.get('error'));
    return fail(
      403,
      'provider_error',
      `The identity provider refused the sign-in (${code}).`,
      { ...providerField, detail: code },
      clear,
    );
  }
  let tokens: Awaited<ReturnType<typeof authorizationCodeGrant>>;
  let claims: Record<string, unknown> | undefined;
  let listing: GraphListing | undefined;
  try {
    const config = await provider.configuration();
    const currentUrl = new URL(`${auth.settings.externalOrigin}${auth.paths.callback}?${scope.query}`);
    // One turn of the sidecar's provider calls for the exchange and its userinfo; a client that
    // leaves while it waits for one costs the provider nothing, and one that leaves while the
    // provider answers ends the call. A sign-in counts as anonymous even from a browser with a
    // session, so sign-ins never take the turns kept for refreshes.
    ({ tokens, claims, listing } = await withProviderTurn(
      auth.providerCalls,
      anonymousClaimant(scope),
      scope.socket,
      async () => {
        const tokens = await authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: tx.v,
          expectedState: state,
          expectedNonce: tx.n,
          idTokenExpected: true,
          // A fresh sign-in: the ID token must say the user authenticated within max_age.
          ...(tx.m !== undefined ? { maxAge: tx.m } : {}),
        });
        // Groups the ID token left out, listed from Microsoft Graph when the provider is set to.
        const claims = await userClaims(config, tokens);
        const listed = await withGraphGroups(
          claims,
          provider.settings,
          tokens.access_token,
          scope.state.config,
        );
        return { tokens, ...listed };
      },
    ));
  } catch (error) {
    const retry = signInToRetry(error);
    if (retry) {
      const page = fail(503, retry.reason, retry.message, { ...providerField, detail: retry.detail }, clear);
      return withHeaders(page, ['retry-after', String(PROVIDER_BUSY_RETRY_AFTER_SECONDS)]);
    }
    const notRecent = tx.m === undefined ? undefined : authTimeRefusal(error, tx.m, now);
    if (notRecent !== undefined)
      return fail(
        401,
        'authentication_not_recent',
        'The identity provider did not confirm a recent sign-in, which this page requires. Sign out of the identity provider and try again, or ask the administrators of this application.',
        { ...providerField, detail: notRecent },
        clear,
      );
    const detail = providerErrorDetail(error);
    if (isProviderUnreachable(error))
      return fail(
        502,
        'provider_unavailable',
        'The identity provider cannot be reached. Try again later.',
        { ...providerField, detail },
        clear,
      );
    return fail(
      401,
      'token_rejected',
      'The identity provider response could not be verified.',
      { ...providerField, detail },
      clear,
    );
  }
  const identity = claims
    ? identityFromClaims(claims, provider.settings.groupsClaim, provider.settings.allowUnverifiedEmail)
    : 'subject_invalid';
  if (typeof identity === 'string')
    return fail(401, identity, 'The identity provider did not name the user.', providerField, clear);
  // A step-up: the provider must say the sign-in is of a class asked for, else the sign-in
  // proves nothing more than the session has, and the page would send the browser here again.
  const acr = tokens.claims()?.acr;
  if (tx.a !== undefined && !(typeof acr === 'string' && tx.a.includes(acr)))
    return fail(
      401,
      'acr_not_satisfied',
      'The identity provider did not confirm the stronger sign-in this page requires (a second factor or a security key, for instance). Try again, or ask the administrators of this application.',
      {
        ...providerField,
        detail:
          typeof acr === 'string'
            ? `the ID token's acr is ${JSON.stringify(acr.slice(0, 256))}; acr_values ${tx.a.join(' ')} were asked`
            : `the ID token has no acr; acr_values ${tx.a.join(' ')} were asked`,
      },
      clear,
    );
  const settings = auth.settings.session;
  const authTime = authTimeOf(tokens.claims(), now);
  const session: Session = {
    v: 1,
    sid: newSessionId(),
    ...identity,
    idp: tx.p,
    ...(authTime !== undefined ? { at: authTime } : {}),
    iat: now,
    exp: now + Math.floor(settings.absoluteMs / 1000),
    seen: now,
    refreshAt: tokens.refresh_token && tokens.expires_in ? now + tokens.expires_in : null,
    refreshToken: tokens.refresh_token ?? null,
    idToken: tokens.id_token ?? null,
    ...(tx.b ? { b: tx.b } : {}),
  };
  const present = auth.sessions.cookies(scope.req.headers.cookie).names;
  let sessionCookies: string[];
  try {
    sessionCookies = await auth.sessions.store(session, present, auth.sessions.signInChunks);
  } catch (error) {
    if (!(error instanceof SessionTooLarge)) throw error;
    return fail(
      500,
      'session_too_large',
      `Your account carries more than a sign-in can hold (${session.groups.length} groups). Ask the administrators of this application to send fewer groups or claims to it.`,
      { ...providerField, detail: `${error.bytes} bytes sealed, ${session.groups.length} groups` },
      clear,
    );
  }
  // The session now comes with every request beside the login cookies of other tabs still signing
  // in: the oldest of those end where both would pass the head limit.
  const others = await signInsInProgress(scope, auth, now, name);
  const room = loginCookieRoom(auth.maxHeaderBytes, setCookieBytes(sessionCookies));
  for (const other of signInsToEnd(others, 0, room)) clear.push(loginCookie(auth, other, '', 0));
  groupsListFailed(scope, session, 'sign_in', listing);
  authEvent(scope, 'login_succeeded', {
    ...sessionEventFields(session),
    ...(session.psid ? { providerSession: session.psid } : {}),
    ...signInStrength(session),
    groups: session.groups.length,
    ...(session.groupsLeftOut ? { groupsLeftOut: true } : {}),
    ...(listing?.ok ? { groupsListed: listing.listed } : {}),
  });
  return redirectTo(`${auth.settings.externalOrigin}${tx.r}`, [...clear, ...sessionCookies], 'gateway');
}
