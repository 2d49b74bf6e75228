import { logEvent } from '../../../contract/event-writer.ts';
import { MAX_TIMER_MS } from '../../../lib/call-at.ts';
import type { RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';
import { closureUnder, type LiveClosure } from './live-closure.ts';

/** Why a response in progress was ended: a new config's verdict, or the end of its credential. */
export type ResponseEnd = LiveClosure | { readonly reason: 'credential_expired' };

/**
 * Proxied requests in progress, from the moment they wait for the application until their
 * response has ended, so that what ends a session or denies its caller reaches them as it
 * reaches tunnels. A request is judged when it arrives, but a stream of events, a long poll or
 * a long download makes no further request: the event stream of a session signed out (or
 * revoked, or past its absolute lifetime) went on for as long as the application kept it open.
 */
export interface OpenResponses {
  /**
   * Registers a request on its way to the application. `end` stops it (answered when nothing
   * was sent yet, else its connection cut), or says false when it was over already. Undo with
   * `delete`.
   */
  add(scope: RequestScope, end: (why: ResponseEnd) => boolean): void;
  delete(scope: RequestScope): void;
  readonly size: number;
  /** Ends those a new config ends (see closureUnder), calling `closed` for each it ended. */
  recheck(state: RuntimeState, closed: (scope: RequestScope, why: LiveClosure) => void): void;
}

/**
 * The registry of responses in progress. Their credentials' ends share one timer, armed for the
 * earliest of them while any is open: a request pays for a map entry, not for a timer.
 */
export function createOpenResponses(): OpenResponses {
  const open = new Map<RequestScope, (why: ResponseEnd) => boolean>();
  let timer: NodeJS.Timeout | undefined;
  let armedAt = Number.POSITIVE_INFINITY;

  const disarm = (): void => {
    clearTimeout(timer);
    timer = undefined;
    armedAt = Number.POSITIVE_INFINITY;
  };
  const arm = (at: number): void => {
    clearTimeout(timer);
    armedAt = at;
    timer = setTimeout(expire, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
    timer.unref();
  };
  /** Ends the responses whose credential has ended, and arms the timer for the next one. */
  const expire = (): void => {
    disarm();
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [scope, end] of [...open]) {
      const endsAt = scope.credentialEndsAt;
      if (endsAt === null) continue;
      if (endsAt > now) {
        next = Math.min(next, endsAt);
        continue;
      }
      open.delete(scope);
      if (!end({ reason: 'credential_expired' })) continue;
      logEvent(scope.sink, 'response_closed', {
        app: scope.state.appLabel,
        requestId: scope.requestId,
        reason: 'credential_expired',
        ...(scope.sessionId !== null ? { sessionId: scope.sessionId } : {}),
        configGeneration: scope.state.config.generation,
      });
    }
    if (next !== Number.POSITIVE_INFINITY) arm(next);
  };

  return {
    add(scope, end) {
      open.set(scope, end);
      const endsAt = scope.credentialEndsAt;
      if (endsAt !== null && endsAt < armedAt) arm(endsAt);
    },
    delete(scope) {
      open.delete(scope);
      if (open.size === 0 && timer !== undefined) disarm();
    },
    get size() {
      return open.size;
    },
    recheck(state, closed) {
      for (const [scope, end] of [...open]) {
        const why = closureUnder(state, scope);
        if (why === null) continue;
        open.delete(scope);
        if (end(why)) closed(scope, why);
      }
    },
  };
}
