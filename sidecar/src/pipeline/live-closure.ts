import { admits, type Decision } from '../policy/decision.ts';
import { nextWindowEnd } from '../policy/selectors/signed-in-within.ts';
import type { RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';
import { credentialWithdrawn } from './credential-withdrawn.ts';

/**
 * Why a new config ends an exchange still open (a tunnel, or a response in progress), or the
 * user's authentication aged past a `signedInWithin` window of its policies (see live-deadline.ts).
 */
export type LiveClosure =
  | { readonly reason: 'policy_changed'; readonly decision: Decision }
  | { readonly reason: 'fresh_sign_in_required'; readonly decision: Decision }
  | { readonly reason: 'session_revoked'; readonly revocation: string }
  | { readonly reason: 'credential_revoked' };

const CREDENTIAL_REVOKED: LiveClosure = Object.freeze({ reason: 'credential_revoked' });

/**
 * What a new config says of an exchange admitted under an earlier one: a revocation that ends
 * its session, the credential that opened it no longer accepted (credentialWithdrawn), or its
 * policies' new decision when they no longer admit it; null while it stands.
 * The policies are not asked again when the config kept the engine that admitted it (a sign-out
 * or a revocation changes only the revocations): its decision stands, and each sign-out does not
 * evaluate every request in progress again. When new policies let it stand, its next sign-in age
 * check is theirs (`signInAgeCheckAt`: their windows may differ).
 */
export function closureUnder(state: RuntimeState, scope: RequestScope): LiveClosure | null {
  const identity = scope.identity;
  const revocation =
    scope.sessionIssuedAt === null || identity === null
      ? undefined
      : state.revocations.find({
          sid: scope.sessionId ?? '',
          email: identity.email,
          sub: identity.sub,
          idp: identity.idp ?? '',
          iat: scope.sessionIssuedAt,
          ...(scope.providerSessionId !== null ? { psid: scope.providerSessionId } : {}),
        });
  if (revocation) return { reason: 'session_revoked', revocation: revocation.name };
  if (credentialWithdrawn(state, scope)) return CREDENTIAL_REVOKED;
  if (scope.policyInput === null || state.policy === scope.state.policy) return null;
  const { decision } = state.policy.evaluate(scope.policyInput);
  if (!admits(decision)) return { reason: 'policy_changed', decision };
  scope.signInAgeCheckAt = nextWindowEnd(
    scope.policyInput.identity?.authTime,
    state.policy.signInWindows,
    Date.now(),
  );
  return null;
}

/**
 * What the config in force now (`now`) says of an exchange admitted under an earlier one: null
 * while it was admitted under this one, or while it stands. A request whose stages waited (a
 * session refreshed at the provider, a token checked against keys fetched) may have been admitted
 * under a config that a revocation or a policy change replaced meanwhile: the recheck at that
 * install did not see it yet.
 */
export function closureSince(now: RuntimeState | undefined, scope: RequestScope): LiveClosure | null {
  return now === undefined || now === scope.state ? null : closureUnder(now, scope);
}
