import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ErrorCause } from '../../../../contract/error-causes.ts';
import { HttpError } from '../../../../contract/errors.ts';
import { type AdmissionTicket, type Claimant, DEFAULT_ANONYMOUS_SHARE } from '../../../../lib/admission.ts';
import { callAt } from '../../../../lib/call-at.ts';
import { resetConnection } from '../../../../lib/net/connection-reset.ts';
import { sendRawError } from '../../http/error-response.ts';
import { type ClientPace, cutWhenClientLags, DEFAULT_CLIENT_PACE } from '../../net/tunnel-client-pace.ts';
import { claimantOf, type RequestScope } from '../../request-scope.ts';
import type { RuntimeState } from '../../runtime-state.ts';
import { upstreamFault } from '../../upstream/upstream-errors.ts';
import { closureUnder, type LiveClosure } from '../live-closure.ts';
import { deadlineOf, endAtDeadline, endedMeanwhile, type LiveEnd, logDeadlineEnd } from '../live-deadline.ts';
import { freshSignInChallenge } from './authorize.ts';
import {
  BUSY_RETRY_AFTER_SECONDS,
  outcomeOf,
  responseHeaders,
  SESSION_ENDED,
  upstreamBusy,
} from './proxy.ts';

/** Caps on open tunnels: a WebSocket holds two sockets for as long as it lives. */
export interface TunnelLimits {
  /** Most tunnels open (or opening) at once. */
  readonly maxTunnels: number;
  /** Most tunnels one caller (identity, or client IP when anonymous) may hold. */
  readonly maxClientTunnels: number;
  /**
   * Fraction of `maxTunnels` anonymous callers may hold together, (0, 1]: the rest stays for
   * identified ones, as in the upstream pool (`--anonymous-share`).
   */
  readonly anonymousShare: number;
}

export const DEFAULT_TUNNEL_LIMITS: TunnelLimits = Object.freeze({
  maxTunnels: 4096,
  maxClientTunnels: 512,
  anonymousShare: DEFAULT_ANONYMOUS_SHARE,
});

/** Which cap refused a tunnel: the `errorCause` of its 503 `tunnel_limit`. */
export type TunnelRefusal = 'tunnels_full' | 'anonymous_tunnels_full' | 'caller_tunnels_full';

/** Open upgraded connections, so shutdown and policy changes can find and close them. */
export interface UpgradeRegistry {
  /** How slowly a tunnel's client may take what the application sends (see cutWhenClientLags). */
  readonly clientPace: ClientPace;
  /**
   * What ends a handshake the application answered: the config in force now, when it was admitted
   * under an earlier one (see closureUnder), or its deadline passed meanwhile (see endAtDeadline);
   * null while it stands.
   */
  closureNow(scope: RequestScope): LiveEnd | null;
  /** Reserves a tunnel for a caller (null), or says which cap is reached. Undo with `delete`. */
  reserve(scope: RequestScope, caller: Claimant): TunnelRefusal | null;
  /**
   * Registers an open tunnel, ended by `close`: at its deadline too (see deadlineOf), when its
   * credential ends or its user's authentication ages past a window of its policies.
   */
  add(scope: RequestScope, close: () => void): void;
  delete(scope: RequestScope): void;
  readonly size: number;
  /** Calls `visit` for each open tunnel, in the order they opened. */
  forEachOpen(visit: (scope: RequestScope) => void): void;
  closeAll(): void;
  /**
   * Re-evaluates every open tunnel against a new config: closes those whose session a revocation
   * ended, and those the policies would now deny, calling `closed` for each first.
   */
  recheck(state: RuntimeState, closed: (scope: RequestScope, why: LiveClosure) => void): void;
}

/** An open tunnel: how to end it, and the timer of its deadline. */
interface OpenTunnel {
  readonly close: () => void;
  /** The deadline armed (deadlineOf), and its cancel. */
  armedAt: number | null;
  disarm: () => void;
}

const NOTHING_ARMED = (): void => undefined;

/** A registry of open WebSocket tunnels, with caps overall and per caller. */
export function createUpgradeRegistry(
  limits: TunnelLimits = DEFAULT_TUNNEL_LIMITS,
  clientPace: ClientPace = DEFAULT_CLIENT_PACE,
  /** The runtime state in force (the last config installed). */
  current: () => RuntimeState | undefined = () => undefined,
): UpgradeRegistry {
  const open = new Map<RequestScope, OpenTunnel>();
  const reserved = new Map<RequestScope, Claimant>();
  const perKey = new Map<string, number>();
  // Eight anonymous addresses (512 tunnels each) held every tunnel: the WebSockets of the
  // application's signed-in users were refused for as long as they stayed open.
  const anonymousLimit = Math.max(1, Math.floor(limits.maxTunnels * limits.anonymousShare));
  let anonymousHeld = 0;
  /**
   * Arms the timer of a tunnel's deadline; at it the tunnel ends (`websocket_closed`, and the
   * tunnel's line says why in `error`), or its next deadline is armed. A request is checked when
   * it comes, but a WebSocket makes no further request: a tab kept its terminal or live dashboard
   * open for days past its session.
   */
  const arm = (scope: RequestScope, tunnel: OpenTunnel): void => {
    const at = deadlineOf(scope);
    if (at === tunnel.armedAt) return;
    tunnel.disarm();
    tunnel.armedAt = at;
    tunnel.disarm =
      at === null
        ? NOTHING_ARMED
        : callAt(at, () => {
            tunnel.armedAt = null;
            const state = current() ?? scope.state;
            const why = endAtDeadline(state, scope, Date.now());
            if (why === null) {
              arm(scope, tunnel);
              return;
            }
            scope.errorCode = why.reason;
            logDeadlineEnd(state, scope, 'websocket_closed', why);
            tunnel.close();
          });
  };
  return {
    clientPace,
    closureNow: (scope) => endedMeanwhile(current(), scope),
    reserve(scope, caller) {
      if (reserved.size >= limits.maxTunnels) return 'tunnels_full';
      if (caller.anonymous && anonymousHeld >= anonymousLimit) return 'anonymous_tunnels_full';
      const { key } = caller;
      if ((perKey.get(key) ?? 0) >= limits.maxClientTunnels) return 'caller_tunnels_full';
      reserved.set(scope, caller);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      if (caller.anonymous) anonymousHeld++;
      return null;
    },
    add(scope, close) {
      const tunnel: OpenTunnel = { close, armedAt: null, disarm: NOTHING_ARMED };
      open.set(scope, tunnel);
      arm(scope, tunnel);
    },
    delete(scope) {
      open.get(scope)?.disarm();
      open.delete(scope);
      const caller = reserved.get(scope);
      if (caller === undefined) return;
      reserved.delete(scope);
      if (caller.anonymous) anonymousHeld--;
      const { key } = caller;
      const left = (perKey.get(key) ?? 1) - 1;
      if (left === 0) perKey.delete(key);
      else perKey.set(key, left);
    },
    get size() {
      return reserved.size;
    },
    forEachOpen(visit) {
      for (const scope of [...open.keys()]) visit(scope);
    },
    closeAll() {
      for (const tunnel of [...open.values()]) tunnel.close();
    },
    recheck(state, closed) {
      for (const [scope, tunnel] of [...open]) {
        const why = closureUnder(state, scope);
        if (why === null) {
          // New policies may have windows of their own (closureUnder).
          arm(scope, tunnel);
          continue;
        }
        scope.errorCode = why.reason;
        closed(scope, why);
        tunnel.close();
      }
    },
  };
}

/**
 * Proxies a WebSocket upgrade: asks the upstream for the same upgrade, relays its 101 with the
 * request id, then splices both sockets until either side closes. Resolves when the tunnel ends.
 */
export function proxyUpgrade(
  scope: RequestScope,
  client: Duplex,
  head: Buffer,
  registry: UpgradeRegistry,
): Promise<void> {
  const { req, state } = scope;
  const idHeader = state.config.requestId.header;
  return new Promise((resolve) => {
    let settled = false;
    let controller: Dispatcher.DispatchController | undefined;
    let ticket: AdmissionTicket | undefined;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      ticket?.release();
      registry.delete(scope);
      resolve();
    };
    const refuse = (error: HttpError, cause: ErrorCause | null = null): void => {
      if (settled) return;
      scope.status = error.status;
      scope.errorCode = error.code;
      scope.errorCause = cause;
      scope.outcome = outcomeOf(error);
      sendRawError(client as never, error, scope.requestId, idHeader, req.headers.accept);
      finish();
    };
    /** The application failed the handshake: the answer for undici's error, and why, for the line. */
    const refuseFault = (error: unknown): void => {
      const fault = upstreamFault(error);
      refuse(fault.answer, fault.failure);
    };
    if (client.destroyed) {
      scope.status = 499;
      scope.outcome = 'client_abort';
      resolve();
      return;
    }
    // Before the 101 the client may leave at any time: the handshake is abandoned upstream too.
    client.once('close', () => {
      if (scope.status === 0) {
        scope.status = 499;
        scope.outcome = 'client_abort';
      }
      if (scope.outcome !== 'upgraded') {
        // Settled first: undici reports the abort at once, as the application's failure (a 502
        // logged for a client that left).
        const handshake = controller;
        finish();
        if (handshake && !handshake.aborted) handshake.abort(new Error('client closed the connection'));
      }
    });
    const claimant = claimantOf(scope);
    const full = registry.reserve(scope, claimant);
    if (full !== null) {
      refuse(TUNNEL_LIMIT, full);
      return;
    }

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (settled) c.abort(new Error('client closed the connection'));
      },
      onRequestUpgrade(_c, statusCode, headers, upstream) {
        scope.upstreamMs = performance.now() - scope.upstreamStartMono;
        ticket?.release(); // the pool no longer holds this connection
        if (settled || client.destroyed) {
          upstream.destroy();
          finish();
          return;
        }
        // A config installed while the application answered the handshake may have ended its
        // session or denied its caller: the recheck of open tunnels did not see this one yet, and
        // it would have stayed open, for as long as its client liked.
        const ended = registry.closureNow(scope);
        if (ended !== null) {
          upstream.destroy();
          refuse(
            ended.reason === 'policy_changed'
              ? HANDSHAKE_DENIED
              : ended.reason === 'fresh_sign_in_required'
                ? freshSignInChallenge(scope)
                : SESSION_ENDED[ended.reason],
          );
          scope.outcome = 'denied';
          return;
        }
        scope.status = statusCode;
        scope.outcome = 'upgraded';
        const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', 'upgrade: websocket'];
        const out = responseHeaders(headers as IncomingHttpHeaders, idHeader, scope.requestId, 101, scope);
        for (let i = 0; i < out.length; i += 2) lines.push(`${out[i]}: ${out[i + 1]}`);
        // One byte per character, as the values were read: the default (UTF-8) would double every
        // byte above 0x7F of the application's headers.
        client.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
        if (head.length > 0) upstream.write(head);
        const close = (): void => {
          client.destroy();
          upstream.destroy();
        };
        registry.add(scope, close);
        upstream.on('error', close);
        client.on('error', close);
        upstream.once('close', () => {
          client.end();
          setTimeout(() => client.destroy(), 1000).unref();
        });
        client.once('close', () => {
          upstream.destroy();
          finish();
        });
        upstream.pipe(client);
        client.pipe(upstream);
        cutWhenClientLags(upstream, client as Socket, registry.clientPace, (why) => {
          if (why === 'stalled') scope.errorCode = 'client_timeout';
          else {
            scope.errorCode = 'response_read_too_slow';
            scope.errorCause = 'under_min_rate';
          }
          resetConnection(client as Socket);
          upstream.destroy();
        });
      },
      onResponseStart(c, statusCode) {
        // The upstream answered without upgrading (e.g. 403, 404): relay as an error page.
        c.abort(
          new HttpError(
            'upstream_error',
            statusCode >= 400 && statusCode < 600 ? statusCode : 502,
            'The application refused the WebSocket upgrade.',
          ),
        );
      },
      onResponseData() {},
      onResponseEnd() {},
      onResponseError(_c, error) {
        if (error instanceof HttpError) refuse(error);
        else refuseFault(error);
      },
    };

    const dispatch = (): void => {
      if (settled) return;
      scope.upstreamStartMono = performance.now();
      try {
        state.upstream.pool.dispatch(
          {
            path: scope.query ? `${scope.path}?${scope.query}` : scope.path,
            method: 'GET',
            headers: scope.upstreamHeaders,
            upgrade: 'websocket',
          },
          handler,
        );
      } catch (error) {
        refuseFault(error);
      }
    };
    ticket = state.upstream.admission.request(claimant, dispatch, (why) => refuse(upstreamBusy(why), why));
  });
}

/** The answer to a handshake whose caller the policies denied while the application answered it. */
const HANDSHAKE_DENIED = new HttpError('policy_changed', 403, 'You no longer have access to this page.');

const TUNNEL_LIMIT = new HttpError(
  'tunnel_limit',
  503,
  'Too many open WebSocket connections. Try again later.',
  undefined,
  { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
);
