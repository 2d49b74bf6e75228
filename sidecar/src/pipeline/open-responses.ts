import { MAX_TIMER_MS } from '../../../lib/call-at.ts';
import { LinkedOrder } from '../../../lib/linked-order.ts';
import type { RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';
import { closureUnder, type LiveClosure } from './live-closure.ts';
import { deadlineOf, endAtDeadline, endedMeanwhile, type LiveEnd, logDeadlineEnd } from './live-deadline.ts';

/**
 * Proxied requests in progress, from the moment they wait for the application until their
 * response has ended, so that what ends a session or denies its caller reaches them as it
 * reaches tunnels. A request is judged when it arrives, but a stream of events, a long poll or
 * a long download makes no further request: the event stream of a session signed out (or
 * revoked, or past its absolute lifetime, or signed in longer ago than its policies allow) went
 * on for as long as the application kept it open.
 */
export interface OpenResponses {
  /** Registers a request on its way to the application (its `response` set). Undo with `delete`. */
  add(scope: RequestScope): void;
  delete(scope: RequestScope): void;
  readonly size: number;
  /**
   * Why a request about to go to the application must not (see closureSince), or its deadline
   * (deadlineOf) passed while its stages waited; null when it may go.
   */
  endedBeforeSent(scope: RequestScope): LiveEnd | null;
  /** Calls `visit` for each request in progress, in the order they went to the application. */
  forEachOpen(visit: (scope: RequestScope) => void): void;
  /** Ends those a new config ends (see closureUnder), calling `closed` for each it ended. */
  recheck(state: RuntimeState, closed: (scope: RequestScope, why: LiveClosure) => void): void;
}

/**
 * The registry of responses in progress: linked through the scopes themselves, so that a
 * request allocates nothing for it, and ended by one function given the scope (its `response`)
 * rather than by a closure per request. Their deadlines (deadlineOf: credentials' ends, sign-in
 * age checks) share one timer, armed for the earliest of them; it is not disarmed when the last
 * one goes, since arming it again for every request that finds the registry empty would cost
 * more than a timer that fires for nothing once.
 */
export function createOpenResponses(
  /**
   * Stops a request in progress (answered when nothing was sent yet, else its connection cut),
   * or says false when it was over already.
   */
  end: (scope: RequestScope, why: LiveEnd) => boolean,
  /** The runtime state in force (the last config installed). */
  current: () => RuntimeState | undefined = () => undefined,
): OpenResponses {
  const open = new LinkedOrder<RequestScope>();
  let timer: NodeJS.Timeout | undefined;
  let armedAt = Number.POSITIVE_INFINITY;

  const arm = (at: number): void => {
    clearTimeout(timer);
    armedAt = at;
    timer = setTimeout(expire, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
    timer.unref();
  };
  /** Arms the timer for `scope`'s deadline when it comes before the one armed. */
  const armFor = (scope: RequestScope): void => {
    const at = deadlineOf(scope);
    if (at !== null && at < armedAt) arm(at);
  };
  /** Ends the responses whose deadline says so, and arms the timer for the next deadline. */
  const expire = (): void => {
    timer = undefined;
    armedAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    open.forEach((scope) => {
      let at = deadlineOf(scope);
      if (at === null) return;
      if (at <= now) {
        const state = current() ?? scope.state;
        const why = endAtDeadline(state, scope, now);
        if (why !== null) {
          open.remove(scope);
          if (end(scope, why)) logDeadlineEnd(state, scope, 'response_closed', why);
          return;
        }
        at = deadlineOf(scope);
        if (at === null) return;
      }
      next = Math.min(next, at);
    });
    if (next !== Number.POSITIVE_INFINITY) arm(next);
  };

  return {
    add(scope) {
      open.append(scope);
      armFor(scope);
    },
    delete: (scope) => open.remove(scope),
    get size() {
      return open.size;
    },
    forEachOpen: (visit) => open.forEach(visit),
    endedBeforeSent: (scope) => endedMeanwhile(current(), scope),
    recheck(state, closed) {
      open.forEach((scope) => {
        const why = closureUnder(state, scope);
        if (why === null) {
          // New policies may have windows of their own (closureUnder).
          armFor(scope);
          return;
        }
        open.remove(scope);
        if (end(scope, why)) closed(scope, why);
      });
    },
  };
}
