import { HttpError } from '../../../../contract/errors.ts';
import { ROOT_PATHS } from '../../auth/gateway-paths.ts';
import { loginRedirect } from '../../auth/login-flow.ts';
import { isPageNavigation } from '../../auth/navigation.ts';
import { accessDeniedPage } from '../../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse } from '../../http/local-response.ts';
import type { Decision } from '../../policy/decision.ts';
import { decisionWithFreshSignIn } from '../../policy/fresh-sign-in.ts';
import type { PolicyInput } from '../../policy/input.ts';
import { nextWindowEnd } from '../../policy/selectors/signed-in-within.ts';
import type { RequestScope } from '../../request-scope.ts';

export const CHALLENGE = { 'www-authenticate': 'Bearer realm="gatehouse"' };

const LOGIN_REQUIRED = new HttpError(
  'authentication_required',
  401,
  'Sign-in required.',
  'no identity; a policy needs one',
  CHALLENGE,
);
const CREDENTIALS_REQUIRED = new HttpError(
  'authentication_required',
  401,
  'Credentials required.',
  'no identity; the application accepts machine callers',
  CHALLENGE,
);
const ACCESS_DENIED = new HttpError('access_denied', 403, 'You do not have access to this page.');

/**
 * Evaluates the application's policies on every request and records the decision (and any audit
 * decision) for the log line. Deny by default: a request goes on only when a policy allows,
 * bypasses or accepts it as a service. Unauthenticated requests that a sign-in could change are
 * sent to sign in when they are page navigations, and get 401 otherwise; never 403.
 */
export function authorize(
  scope: RequestScope,
): HttpError | LocalResponse | Promise<LocalResponse> | undefined {
  // The same client IP and path that are logged and forwarded.
  const input: PolicyInput = {
    identity: scope.identity,
    clientIp: scope.clientIp,
    privateEndpoint: scope.privateEndpoint,
    path: scope.path,
    method: scope.req.method ?? '',
  };
  const engine = scope.state.policy;
  const { decision, audit } = engine.evaluate(input);
  scope.policyInput = input;
  scope.decision = decision;
  scope.auditDecision = audit;
  if (decision.action !== 'deny') {
    // Only applications with `signedInWithin` policies: what the request opens is judged again
    // when the user's authentication ages past one of their windows.
    if (engine.signInWindow !== null)
      scope.signInAgeCheckAt = nextWindowEnd(input.identity?.authTime, engine.signInWindows, Date.now());
    return undefined;
  }
  const enforced = decisionWithFreshSignIn(engine, decision, input, Math.floor(Date.now() / 1000));
  scope.decision = enforced.decision;
  scope.stepUpAcr = enforced.acrValues;
  return refusalOf(scope, enforced.decision);
}

/**
 * The answer to a request its policies deny (`decision`): a sign-in when one could change that
 * (see signInOrChallenge), else 401 for a machine caller's missing credentials, else 403 (a page
 * for people).
 */
export function refusalOf(scope: RequestScope, decision: Decision): HttpError | LocalResponse {
  if (decision.reason === 'login_required') {
    // A policy that asks for a recent or a stronger sign-in asks the provider for one at the
    // first sign-in too.
    const engine = scope.state.policy;
    const acr = engine.acrValuesOf(decision.policy);
    return signInOrChallenge(
      scope,
      LOGIN_REQUIRED,
      engine.asksRecentSignIn(decision.policy) || acr.length > 0,
      acr,
    );
  }
  if (decision.reason === 'fresh_sign_in_required') return freshSignInOrChallenge(scope);
  if (scope.identity === null && scope.state.policy.acceptsMachines) return CREDENTIALS_REQUIRED;
  // A page for people; a WebSocket handshake gets the plain 403 whatever it accepts.
  return scope.kind === 'http' && scope.req.headers.accept?.includes('text/html')
    ? accessDenied(scope)
    : ACCESS_DENIED;
}

/**
 * Sign-in needed: a page navigation is sent to sign in (`fresh`: asking the provider for a recent
 * authentication, for a `signedInWithin` policy, and for one of the classes `acrValues`, for an
 * `acrValues` one), any other request gets `challenge` (a 401).
 */
export function signInOrChallenge(
  scope: RequestScope,
  challenge: HttpError,
  fresh = false,
  acrValues: readonly string[] = [],
): HttpError | LocalResponse {
  const auth = scope.state.auth;
  if (auth !== null && auth.providers.size > 0 && isPageNavigation(scope.req))
    return loginRedirect(scope, auth, fresh, acrValues);
  return challenge;
}

/**
 * A new sign-in needed (a `signedInWithin` policy, or an `acrValues` one): a page navigation is
 * sent to sign in again, asking the provider for an authentication within the application's
 * shortest window (`max_age`) and, for a step-up, of one of the classes that would let it
 * through (`acr_values`); any other request gets 401 with the step-up challenge of RFC 9470.
 */
function freshSignInOrChallenge(scope: RequestScope): HttpError | LocalResponse {
  const auth = scope.state.auth;
  if (auth !== null && auth.providers.size > 0 && isPageNavigation(scope.req))
    return loginRedirect(scope, auth, true, scope.stepUpAcr);
  return freshSignInChallenge(scope);
}

/**
 * The 401 asking for a new sign-in (RFC 9470's `insufficient_user_authentication`): with the
 * `max_age` of the application's shortest window, when it has one, and for a step-up the
 * `acr_values` that would let the request through.
 */
export function freshSignInChallenge(scope: RequestScope): HttpError {
  const maxAge = scope.state.policy.signInWindow;
  const acr = scope.stepUpAcr.join(' ');
  const stronger = acr !== '';
  const description = stronger ? 'A stronger sign-in is required' : 'A more recent sign-in is required';
  const asked = [
    ...(stronger ? [`acr_values="${acr}"`] : []),
    ...(maxAge !== null || !stronger ? [`max_age="${maxAge ?? 0}"`] : []),
  ];
  return new HttpError(
    'fresh_sign_in_required',
    401,
    `${description}.`,
    stronger
      ? `sign-in of none of the classes ${acr}; a policy needs one`
      : `authentication older than ${maxAge ?? 0} s; a policy needs a more recent one`,
    {
      'www-authenticate': `Bearer realm="gatehouse", error="insufficient_user_authentication", error_description="${description}", ${asked.join(', ')}`,
    },
  );
}

/** The 403 page for a person: the application, who is signed in, and the ways on. */
function accessDenied(scope: RequestScope): LocalResponse {
  const identity = scope.identity;
  const provider = identity?.idp ? scope.state.auth?.providers.get(identity.idp) : undefined;
  const page = accessDeniedPage({
    application: scope.state.appLabel,
    host: scope.host,
    signedInAs: identity
      ? { name: identity.email ?? identity.sub, provider: provider?.settings.displayName ?? null }
      : null,
    returnPath: scope.query ? `${scope.path}?${scope.query}` : scope.path,
    requestId: scope.requestId,
    paths: scope.state.auth?.paths ?? ROOT_PATHS,
    groupsLeftOut: scope.groupsLeftOut,
  });
  return htmlResponse(403, page, [], 'denied', 'access_denied');
}
