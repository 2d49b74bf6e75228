import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RuntimeState } from '../runtime-state.ts';

/** How a request ended; exactly one per log line. */
export type Outcome =
  | 'served'
  | 'denied'
  | 'rejected'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'client_abort'
  | 'client_timeout'
  | 'upgraded';

/** Who made the request, once authentication has run. */
export interface Identity {
  readonly sub: string;
  readonly email: string | null;
  readonly idp: string | null;
}

/** Why a request was allowed or refused: the policy, the rule and a reason code. */
export interface Decision {
  readonly action: string;
  readonly policy: string | null;
  readonly rule: string | null;
  readonly reason: string;
}

/**
 * The one typed per-request scope: created by the first stage, filled by later ones, read by the
 * log stage. Nothing is stored on `req` itself.
 */
export class RequestScope {
  readonly kind: 'http' | 'upgrade';
  readonly state: RuntimeState;
  readonly req: IncomingMessage;
  /** Wall-clock start (epoch ms) and monotonic start (ns) for the duration. */
  readonly startedAt: number;
  readonly startNs: bigint;
  readonly peerIp: string;
  /** The client connection, kept here because `req.socket` is detached once the exchange ends. */
  readonly socket: Socket;
  requestId = '';
  clientIp = '';
  host = '';
  path = '';
  query = '';
  /** True when the peer is a configured trusted proxy. */
  peerTrusted = false;
  /** True when the request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody = false;
  /** Headers sent upstream, as a flat [name, value, ...] list. */
  upstreamHeaders: string[] = [];
  identity: Identity | null = null;
  sessionId: string | null = null;
  authMethod: string | null = null;
  decision: Decision | null = null;
  status = 0;
  outcome: Outcome = 'served';
  errorCode: string | null = null;
  upstreamStartNs = 0n;
  upstreamMs: number | null = null;
  bytesIn = 0;
  bytesOut = 0;
  logged = false;

  constructor(kind: 'http' | 'upgrade', state: RuntimeState, req: IncomingMessage) {
    this.kind = kind;
    this.state = state;
    this.req = req;
    this.startedAt = Date.now();
    this.startNs = process.hrtime.bigint();
    this.socket = req.socket;
    this.peerIp = req.socket.remoteAddress ?? '';
  }
}
