import { admits, type Decision } from './decision.ts';
import type { PolicyEngine } from './engine.ts';
import type { PolicyInput } from './input.ts';
import { deny } from './policy-compiler.ts';
import { authenticatedWithin } from './selectors/signed-in-within.ts';

/** The decision the sidecar enforces, and the classes of sign-in to ask the provider for. */
export interface EnforcedDecision {
  readonly decision: Decision;
  /**
   * With a `fresh_sign_in_required` decision: the `acrValues` of the policies a sign-in of that
   * class would let the request through (the provider's `acr_values`, in the order listed);
   * empty when a more recent sign-in of any class would, and for every other decision.
   */
  readonly acrValues: readonly string[];
}

const NO_ACR: readonly string[] = Object.freeze([]);

/**
 * Most `acrValues` values tried for one denied request: each is one more evaluation, paid by a
 * signed-in user's denied request in an application whose policies list them.
 */
export const STEP_UP_ACR_TRIED = 32;

/**
 * For a signed-in user's request its policies deny: whether a new sign-in would let it through,
 * and which. A more recent one, because a `signedInWithin` policy asks for a more recent
 * authentication than the user's; else one the provider classes as one of the `acrValues` of the
 * policies (step-up authentication), that the user's sign-in is not. Then the decision to log
 * instead (deny `fresh_sign_in_required`, naming the policy that would decide) with the classes
 * to ask for, else null. Only applications with such policies pay for the second evaluations:
 * for a window, only users whose authentication is older than the shortest one; for classes, one
 * evaluation per class listed (at most STEP_UP_ACR_TRIED).
 */
export function freshSignInDecision(
  engine: PolicyEngine,
  input: PolicyInput,
  nowSeconds: number,
): EnforcedDecision | null {
  const identity = input.identity;
  if (identity?.kind !== 'user') return null;
  const window = engine.signInWindow;
  // Already as recent as the shortest window: a sign-in now would change nothing of its age.
  if (window !== null && !authenticatedWithin(identity.authTime, window, nowSeconds)) {
    const fresh = engine.evaluate({ ...input, identity: { ...identity, authTime: nowSeconds } }).decision;
    if (admits(fresh)) return { decision: deny('fresh_sign_in_required', fresh.policy), acrValues: NO_ACR };
  }
  let first: Decision | null = null;
  const asked: string[] = [];
  for (const acr of engine.acrValues.slice(0, STEP_UP_ACR_TRIED)) {
    if (identity.claims.acr === acr) continue; // a sign-in of its own class: only its age changes
    const claims = { ...identity.claims, acr };
    const stronger = engine.evaluate({ ...input, identity: { ...identity, authTime: nowSeconds, claims } });
    if (!admits(stronger.decision)) continue;
    first ??= stronger.decision;
    asked.push(acr);
  }
  return first === null ? null : { decision: deny('fresh_sign_in_required', first.policy), acrValues: asked };
}

/**
 * The decision the sidecar enforces: `decided` (the engine's), or for a denial that a new sign-in
 * would lift, `fresh_sign_in_required` with the classes to ask for (freshSignInDecision). What
 * the authorize stage and `gatehouse explain` both decide.
 */
export function decisionWithFreshSignIn(
  engine: PolicyEngine,
  decided: Decision,
  input: PolicyInput,
  nowSeconds: number,
): EnforcedDecision {
  if (decided.action !== 'deny') return { decision: decided, acrValues: NO_ACR };
  return freshSignInDecision(engine, input, nowSeconds) ?? { decision: decided, acrValues: NO_ACR };
}
