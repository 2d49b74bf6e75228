import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Decision } from '../policy/decision.ts';
import type { PolicyIdentity, PolicyInput } from '../policy/input.ts';
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
  /** Who made the request, once authentication has run; null for anonymous requests. */
  identity: PolicyIdentity | null = null;
  sessionId: string | null = null;
  authMethod: string | null = null;
  /** What the policies decided, and what audit policies would have decided (null without any). */
  decision: Decision | null = null;
  auditDecision: Decision | null = null;
  /** The facts the decision was made on, kept so open WebSockets can be re-checked after a policy change. */
  policyInput: PolicyInput | null = null;
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
