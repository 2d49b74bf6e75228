import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCause } from '../../contract/error-causes.ts';
import type { Claimant } from '../../lib/admission.ts';
import type { OrderLink } from '../../lib/linked-order.ts';
import type { LogSink } from '../../lib/log/log-sink.ts';
import { clientNetwork } from '../../lib/net/address-bits.ts';
import type { SidecarMetrics } from './metrics/metrics.ts';
import type { ClientConnection } from './net/client-connection.ts';
import type { Decision } from './policy/decision.ts';
import type { PolicyIdentity, PolicyInput } from './policy/input.ts';
import type { RuntimeState } from './runtime-state.ts';

/** No classes of sign-in to ask for (shared: no allocation per request). */
const NO_STEP_UP: readonly string[] = Object.freeze([]);

/** How the caller proved who they are. */
export type AuthMethod = 'oidc' | 'service-token' | 'service-account';

let sequence = 0;
/** The next request sequence number of this process (it starts at 1 with each process). */
function nextSequence(): number {
  sequence += 1;
  return sequence;
}

/** A refused session, as a request line names it. */
export interface EndedSession {
  readonly sessionId: string;
  readonly reason: 'signed_out' | 'revoked' | 'expired';
  readonly sub: string;
  readonly email: string | null;
  readonly idp: string;
}

/**
 * What the request's Expect header asks (RFC 9110 §10.1.1), as Node's server read it: nothing, a
 * 100 (Continue) before the client sends its body, or an expectation no one here can meet.
 */
export type Expectation = 'none' | 'continue' | 'unsupported';

/** How a request ended; exactly one per log line. */
export type Outcome =
  | 'served'
  | 'denied'
  | 'rejected'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'client_abort'
  | 'client_timeout'
  | 'upgraded'
  | 'overloaded'
  | 'login_redirect'
  | 'gateway';

/**
 * The one typed per-request scope: created by the first stage, filled by later ones, read by the
 * log stage. Nothing is stored on `req` itself.
 */
export class RequestScope implements OrderLink {
  readonly kind: 'http' | 'upgrade';
  readonly state: RuntimeState;
  readonly req: IncomingMessage;
  /** Wall-clock start (epoch ms) and monotonic start (ns) for the duration. */
  readonly startedAt: number;
  /**
   * Order of this request among all the requests of this process, by start: requests that start
   * within the same millisecond are still ordered exactly (the audit sorts by start, then this).
   */
  readonly seq: number;
  /** When the request started on the monotonic clock (performance.now(), milliseconds). */
  readonly startMono: number;
  readonly peerIp: string;
  /** The private endpoint the connection came through (its PROXY header named it); null without one. */
  readonly privateEndpoint: string | null;
  /** The client connection, kept here because `req.socket` is detached once the exchange ends. */
  readonly socket: Socket;
  /** The sidecar's record of that connection (timeouts, byte marks); null for synthetic requests. */
  readonly connection: ClientConnection | null;
  /** The process's instruments (auth events count there); null for synthetic requests. */
  readonly metrics: SidecarMetrics | null;
  requestId = '';
  /** The W3C trace this request belongs to (32 hex digits), its traceparent and tracestate as sent upstream. */
  traceId = '';
  traceparent = '';
  tracestate: string | null = null;
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
  /** Sign-in time (epoch seconds) of the session, to end it when a revocation arrives mid-tunnel. */
  sessionIssuedAt: number | null = null;
  /**
   * When the credential of the request stops being valid (epoch ms): a session's absolute end, a
   * ServiceAccount token's or a service token's expiry; null when it has none. A tunnel it opened ends then.
   */
  credentialEndsAt: number | null = null;
  /**
   * A session cookie presented but refused because its session had ended (signed out, revoked,
   * expired): the request goes on anonymous, and its log line ties it to that session.
   */
  endedSession: EndedSession | null = null;
  /** The identity provider's session id of the signed-in session, when it has one. */
  providerSessionId: string | null = null;
  /** The signed-in session's provider left its groups out (Session.groupsLeftOut). */
  groupsLeftOut = false;
  authMethod: AuthMethod | null = null;
  /** Key under which this caller's identity JWT is cached (session, token or ServiceAccount). */
  assertionKey = '';
  /** Set-Cookie values added to whatever response this request gets (session renewal or clearing). */
  setCookies: string[] | null = null;
  /** What the policies decided, and what audit policies would have decided (null without any). */
  decision: Decision | null = null;
  auditDecision: Decision | null = null;
  /** The facts the decision was made on, kept so open WebSockets can be re-checked after a policy change. */
  policyInput: PolicyInput | null = null;
  /**
   * When the user's authentication next ages past a `signedInWithin` window of the policies that
   * admitted the request (epoch ms): what it opened (a tunnel, a response in progress) is judged
   * again then. Null when no window can change the verdict.
   */
  signInAgeCheckAt: number | null = null;
  /**
   * With a `fresh_sign_in_required` decision: the classes of sign-in (`acr_values`) that would
   * let the request through, asked of the provider (step-up authentication); empty otherwise.
   */
  stepUpAcr: readonly string[] = NO_STEP_UP;
  status = 0;
  outcome: Outcome = 'served';
  errorCode: string | null = null;
  /** When the request was sent upstream, on the monotonic clock (milliseconds). */
  upstreamStartMono = 0;
  upstreamMs: number | null = null;
  /** Why `errorCode` happened, where one code has several causes (the application's failures, a malformed request). */
  errorCause: ErrorCause | null = null;
  bytesIn = 0;
  bytesOut = 0;
  logged = false;
  /** True while the request waits for an upstream admission slot (its body is not being read). */
  waitingForUpstream = false;
  /** True once the connection's owner ended the request early (timeout, broken body). */
  interrupted = false;
  /** What the Expect header asked; the request checks refuse an unsupported one (417). */
  expectation: Expectation = 'none';
  /** The response of a request forwarded to the application, while it is in progress. */
  response: ServerResponse | null = null;
  /** Links of the requests in progress (lib/linked-order.ts). */
  orderPrev: OrderLink | null = null;
  orderNext: OrderLink | null = null;
  inOrder = false;
  /** Sends the 100 (Continue) the client still waits for before its body; null once sent or when none is owed. */
  private continueOwed: (() => void) | null = null;

  /** Where auth events of this request are written (the same stream as the request line). */
  readonly sink: LogSink;
  /** Whether the sidecar is ready now (as its admin port's /readyz says): the readiness route's answer. */
  readonly ready: () => boolean;

  constructor(
    kind: 'http' | 'upgrade',
    state: RuntimeState,
    req: IncomingMessage,
    sink: LogSink,
    connection: ClientConnection | null = null,
    metrics: SidecarMetrics | null = null,
    ready: () => boolean = alwaysReady,
  ) {
    this.metrics = metrics;
    this.ready = ready;
    this.kind = kind;
    this.connection = connection;
    this.sink = sink;
    this.state = state;
    this.req = req;
    this.startedAt = Date.now();
    this.seq = nextSequence();
    this.startMono = performance.now();
    this.socket = req.socket;
    this.peerIp = connection?.peerIp ?? req.socket.remoteAddress ?? '';
    this.privateEndpoint = connection?.privateEndpoint ?? null;
  }

  /** Records that the client waits for a 100 (Continue) before it sends its body; `send` sends it. */
  owesContinue(send: () => void): void {
    this.expectation = 'continue';
    this.continueOwed = send;
  }

  /**
   * Invites the body: sends the 100 (Continue) owed, once. Called only where the body is about to
   * be read (the request is dispatched upstream, or a gateway route reads it), so a request the
   * gateway refuses never asks for its body; its answer then closes the connection (Node's rule
   * for a final status sent before the 100).
   */
  inviteBody(): void {
    const send = this.continueOwed;
    if (send === null) return;
    this.continueOwed = null;
    send();
  }
}

/**
 * Who a request is for the gates with a fair share (the upstream pool, the calls to identity
 * providers): identified callers by identity, anonymous ones by client IP.
 */
export function claimantOf(scope: RequestScope): Claimant {
  const identity = scope.identity;
  return identity === null
    ? anonymousClaimant(scope)
    : { key: `${identity.kind}:${identity.sub}`, anonymous: false };
}

/**
 * The request as an anonymous caller, by client IP (an IPv6 client by its /64), whoever it is
 * signed in as.
 */
export function anonymousClaimant(scope: RequestScope): Claimant {
  return { key: `ip:${clientNetwork(scope.clientIp)}`, anonymous: true };
}

/** A scope made outside a server (tests, tools): ready. */
const alwaysReady = (): boolean => true;
