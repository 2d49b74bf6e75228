import { signInWindowSeconds } from '../../../../contract/policy/selector-rules.ts';
import type { SelectorDefinition } from '../selector.ts';

/**
 * Seconds an authentication may be older than the window and still count: the clock tolerance
 * openid-client applies to `auth_time` when a sign-in asks for `max_age`, so a sign-in it takes
 * for a window always passes that window (a provider's clock a little behind never loops a user
 * through sign-ins).
 */
export const SIGN_IN_AGE_TOLERANCE_SECONDS = 30;

/** Whether `authTime` (epoch seconds, or unknown) is within `windowSeconds` of `nowSeconds`. */
export function authenticatedWithin(
  authTime: number | undefined,
  windowSeconds: number,
  nowSeconds: number,
): boolean {
  return authTime !== undefined && nowSeconds - authTime <= windowSeconds + SIGN_IN_AGE_TOLERANCE_SECONDS;
}

/**
 * The first moment after `nowMs` (epoch ms) at which an authentication at `authTime` is no longer
 * within one of `windows` (seconds, shortest first; see authenticatedWithin): when the verdict of
 * policies with those windows on its user may next change. Null when every window has passed,
 * and when the provider never said when (no window ever passes such a user).
 */
export function nextWindowEnd(
  authTime: number | undefined,
  windows: readonly number[],
  nowMs: number,
): number | null {
  if (authTime === undefined) return null;
  for (const window of windows) {
    const endsAt = (authTime + window + SIGN_IN_AGE_TOLERANCE_SECONDS + 1) * 1000;
    if (endsAt > nowMs) return endsAt;
  }
  return null;
}

/**
 * Matches a user who authenticated at the provider within the window (the ID token's
 * `auth_time`); a session whose provider never said when fails, as does every machine caller.
 */
export const signedInWithin: SelectorDefinition<'signedInWithin'> = {
  kind: 'signedInWithin',
  pass: 'signed_in_within',
  fail: 'signed_in_before',
  compile(value) {
    // Checked at load: a duration between 1m and 720h.
    const window = signInWindowSeconds(value) as number;
    return (input) =>
      input.identity?.kind === 'user' &&
      authenticatedWithin(input.identity.authTime, window, Math.floor(Date.now() / 1000));
  },
};
