import { logEvent } from '../../../contract/event-writer.ts';
import { admits } from '../policy/decision.ts';
import { decisionWithFreshSignIn } from '../policy/fresh-sign-in.ts';
import { nextWindowEnd } from '../policy/selectors/signed-in-within.ts';
import type { RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';
import { closureSince, type LiveClosure } from './live-closure.ts';

/**
 * Why an exchange still open (a tunnel, a response in progress) was ended: a new config's
 * verdict, the user's authentication aged past a window of its policies, or its credential's end.
 */
export type LiveEnd = LiveClosure | { readonly reason: 'credential_expired' };

const CREDENTIAL_EXPIRED: LiveEnd = Object.freeze({ reason: 'credential_expired' });

/**
 * When an exchange still open must be looked at again without a new config (epoch ms): its
 * credential's end, or the next time its user's authentication ages past a `signedInWithin`
 * window of its policies, whichever comes first; null when neither can come.
 */
export function deadlineOf(scope: RequestScope): number | null {
  const endsAt = scope.credentialEndsAt;
  const ages = scope.signInAgeCheckAt;
  if (ages === null) return endsAt;
  return endsAt === null || ages < endsAt ? ages : endsAt;
}

/**
 * What an exchange's deadline (deadlineOf) says at `nowMs` under `state`, the config in force:
 * its credential ended, or the policies no longer admit its user's authentication as old as it is
 * now (`fresh_sign_in_required`, with the decision a request would get now); null while it
 * stands, with its next sign-in age check set (a later window may still end it).
 * A request is judged when it arrives, but a WebSocket or a stream of events makes no further
 * request: a terminal opened in an admin area that asks for a sign-in within 15 minutes stayed
 * open for as long as the tab did.
 */
export function endAtDeadline(state: RuntimeState, scope: RequestScope, nowMs: number): LiveEnd | null {
  const endsAt = scope.credentialEndsAt;
  if (endsAt !== null && endsAt <= nowMs) return CREDENTIAL_EXPIRED;
  const ages = scope.signInAgeCheckAt;
  const input = scope.policyInput;
  if (ages === null || ages > nowMs || input === null) return null;
  const engine = state.policy;
  const { decision } = engine.evaluate(input);
  if (admits(decision)) {
    scope.signInAgeCheckAt = nextWindowEnd(input.identity?.authTime, engine.signInWindows, nowMs);
    return null;
  }
  return {
    reason: 'fresh_sign_in_required',
    decision: decisionWithFreshSignIn(engine, decision, input, Math.floor(nowMs / 1000)).decision,
  };
}

/**
 * What ends an exchange at a step it waited for (a request about to go to the application, a
 * handshake the application answered): its deadline passed meanwhile (endAtDeadline), or a config
 * installed since it was admitted (closureSince: the recheck at that install did not see it yet);
 * null while it stands. `current` is the config in force.
 */
export function endedMeanwhile(current: RuntimeState | undefined, scope: RequestScope): LiveEnd | null {
  const at = deadlineOf(scope);
  const now = Date.now();
  const ended = at !== null && at <= now ? endAtDeadline(current ?? scope.state, scope, now) : null;
  return ended ?? closureSince(current, scope);
}

/**
 * Writes that an exchange was ended at its deadline (endAtDeadline): `websocket_closed` for a
 * tunnel, `response_closed` for a request in progress; `state` is the config in force.
 */
export function logDeadlineEnd(
  state: RuntimeState,
  scope: RequestScope,
  event: 'websocket_closed' | 'response_closed',
  why: LiveEnd,
): void {
  logEvent(scope.sink, event, {
    app: state.appLabel,
    requestId: scope.requestId,
    ...why,
    ...(scope.sessionId !== null ? { sessionId: scope.sessionId } : {}),
    configGeneration: state.config.generation,
  });
}
