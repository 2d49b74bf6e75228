import { admits, type Decision } from './decision.ts';
import type { PolicyEngine } from './engine.ts';
import type { PolicyInput } from './input.ts';
import { deny } from './policy-compiler.ts';
import { authenticatedWithin } from './selectors/signed-in-within.ts';

/**
 * For a signed-in user's request its policies deny: whether a fresh sign-in would let it through,
 * because a `signedInWithin` policy asks for a more recent authentication than the user's. Then
 * the decision to log instead (deny `fresh_sign_in_required`, naming the policy that would
 * decide), else null. Only applications with such policies, and only users whose authentication
 * is older than the shortest window, pay for the second evaluation (with `auth_time` now).
 */
export function freshSignInDecision(
  engine: PolicyEngine,
  input: PolicyInput,
  nowSeconds: number,
): Decision | null {
  const window = engine.signInWindow;
  const identity = input.identity;
  if (window === null || identity?.kind !== 'user') return null;
  // Already as recent as the shortest window: a sign-in now would change nothing.
  if (authenticatedWithin(identity.authTime, window, nowSeconds)) return null;
  const fresh = engine.evaluate({ ...input, identity: { ...identity, authTime: nowSeconds } }).decision;
  return admits(fresh) ? deny('fresh_sign_in_required', fresh.policy) : null;
}

/**
 * The decision the sidecar enforces: `decided` (the engine's), or for a denial that a more recent
 * sign-in would lift, `fresh_sign_in_required` (freshSignInDecision). What the authorize stage and
 * `gatehouse explain` both decide.
 */
export function decisionWithFreshSignIn(
  engine: PolicyEngine,
  decided: Decision,
  input: PolicyInput,
  nowSeconds: number,
): Decision {
  if (decided.action !== 'deny') return decided;
  return freshSignInDecision(engine, input, nowSeconds) ?? decided;
}
