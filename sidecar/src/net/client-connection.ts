import type { Socket } from 'node:net';
import type { RequestFault, SlowClient } from '../../../contract/error-causes.ts';
import type { LinkedOrder, OrderLink } from '../../../lib/linked-order.ts';

/**
 * One client connection as the sidecar holds it, from accept to close. The request pipeline
 * reads and writes these fields instead of keeping state on sockets or in shared module maps.
 */
export interface ClientConnection {
  readonly socket: Socket;
  /**
   * Peer address as accepted (before any trusted-proxy resolution); behind a load balancer that
   * sends the PROXY protocol, the client its header named.
   */
  readonly peerIp: string;
  /**
   * The private endpoint (AWS PrivateLink, Azure Private Link, GCP Private Service Connect) its
   * PROXY header named, as `aws:vpce-…`, `azure:<LinkID>` or `gcp:<id>`; null without one.
   */
  readonly privateEndpoint: string | null;
  /** The connection came from a peer that must send a PROXY header (spec.proxyProtocol) and sent none. */
  readonly proxyHeaderMissing: boolean;
  /** Set when the connection's idle timer fired; its request ends as client_timeout. */
  timedOut: boolean;
  /** Set once the HTTP parser reported an error; it reports each connection once. */
  protocolError: boolean;
  /**
   * Set while the application makes the answer to this connection's request: from dispatch until
   * the application's response has ended or failed, or the client has gone.
   */
  upstreamAnswering: boolean;
  /** Requests on this connection whose responses are not finished yet (pipelining). */
  readonly inFlight: number;
  /** The oldest request in progress, told about what happens to its connection. */
  readonly current: ConnectionRequest | null;
  /** Bytes read from the socket that earlier, finished requests already counted. */
  bytesReadMark: number;
  bytesWrittenMark: number;
  /** Time (ms) the current request's body was being read, for the minimum-rate check. */
  readingMs: number;
  /**
   * When (performance.now() ms) the current span of the response waiting on its client began,
   * -1 when it does not wait; and what the kernel had taken of the socket's writes then. For the
   * minimum response rate (client-rate-check.ts).
   */
  sendSpanStartMs: number;
  sendSpanTaken: number;
  /** Registers a request; the returned function marks it finished (idempotent). */
  begin(request: ConnectionRequest): () => void;
  /**
   * The response in progress waits on its client (it takes nothing more for now): the rate check
   * must run.
   */
  heldUpByClient(): void;
  /**
   * The request's answer is out, and only the rest of its body is still arriving (read and
   * dropped, still held to the body's rate): the connection may be closed to make room, as an
   * idle one may. Otherwise a client that declared bodies it never sent held each connection
   * busy for the body timeout after its answer.
   */
  answered(): void;
  /**
   * A request arrived that the pipeline begins later (it waits for the log to drain): the
   * connection is not idle meanwhile, so the connection cap does not close it.
   */
  announce(): void;
  /** Resolves once every request ahead on this connection has finished its response. */
  whenIdle(): Promise<void>;
  /**
   * Takes a place in line for a request that arrived while others on this connection are still
   * in progress (pipelining): resolves when every one ahead has finished, or when the connection
   * closes. Null when it may start now; `over` when the connection already holds
   * MAX_PIPELINED_REQUESTS requests unanswered, and for every request after that one.
   */
  takeTurn(): Promise<void> | null | 'over';
}

/**
 * Most requests one connection may have parsed and unanswered. Pipelined requests run one after
 * another (as in nginx), so the ones behind a slow response wait unstarted; the parser reads
 * ahead as fast as the client sends, so without a bound one connection piles up requests in
 * memory for as long as the response ahead takes. Browsers do not pipeline.
 */
export const MAX_PIPELINED_REQUESTS = 32;

/** Why a connection's owner ends a request early. */
export type RequestTimeout = 'body_too_slow' | 'request_deadline' | 'response_read_too_slow';

/** What a request in progress exposes to the owner of its connection. */
export interface ConnectionRequest {
  /** Monotonic start (ms, performance.now()) of the request. */
  readonly startedAtMs: number;
  /**
   * Where receiving the request stands: `done` once head and body are in; `reading` while the
   * sidecar consumes the body; `held` while the sidecar itself is not reading (queued for the
   * upstream, or the upstream is applying back-pressure), so slowness is not the client's.
   */
  reading(): 'done' | 'reading' | 'held';
  /**
   * Whether its response has started and waits on its client: the socket holds what the kernel
   * would not take.
   */
  waitsOnClient(): boolean;
  /**
   * Whether it holds an upstream connection that a request of another caller waits for (see
   * Admission.wanted; `freeing`: connections already being given up for waiting requests).
   */
  upstreamWanted(freeing: number): boolean;
  /**
   * Ends the request early with a timeout: answers it if it can, else closes the connection (a
   * response its client took too slowly, `why` it was cut: resets it, so the kernel drops what it
   * still holds).
   */
  timeout(reason: RequestTimeout, why?: SlowClient): void;
  /** The connection broke mid-request (a parse error in its body, or the client's FIN mid-body). */
  broken(code: string, cause: RequestFault): void;
  /**
   * The client sent FIN. Before the response starts this is a half-close (RFC 9112 §9.6) and the
   * request goes on; once the response is streaming it means the client has gone.
   */
  peerEnded(): void;
}

/** A connection as its owner (client-connections.ts) keeps it. */
export interface TrackedConnection extends ClientConnection, OrderLink {
  /** Set once, from the PROXY header, before the HTTP server sees the connection. */
  peerIp: string;
  privateEndpoint: string | null;
  proxyHeaderMissing: boolean;
  /** Requests announced and not begun yet. */
  announced: number;
  /** Handed over for an upgrade: a tunnel, never idle. */
  upgraded: boolean;
  inFlight: number;
  current: ConnectionRequest | null;
  readonly requests: ConnectionRequest[];
  idleWaiters: (() => void)[];
  /** Pipelined requests waiting for the ones ahead, in order. */
  turns: (() => void)[];
  /** Set once a request went over MAX_PIPELINED_REQUESTS: every later one is over too. */
  overPipelined: boolean;
}

/** What a connection tells its owner when its requests come and go. */
export interface ConnectionOwner {
  /** Connections with nothing in progress, in the order they became idle. */
  readonly idle: LinkedOrder<TrackedConnection>;
  /** Nothing is in progress on the connection any more (unless requests are announced). */
  becameIdle(connection: TrackedConnection): void;
  /** A request is in progress, or a response waits on its client: the rate check must run. */
  active(): void;
}

/**
 * The record of a connection just accepted, with its requests' bookkeeping: pipelined requests
 * take turns, finished ones wake who waits for the connection to be idle, and the owner hears
 * when it is idle or being read.
 */
export function trackConnection(socket: Socket, peerIp: string, owner: ConnectionOwner): TrackedConnection {
  const connection: TrackedConnection = {
    socket,
    peerIp,
    privateEndpoint: null,
    proxyHeaderMissing: false,
    announced: 0,
    upgraded: false,
    orderPrev: null,
    orderNext: null,
    inOrder: false,
    timedOut: false,
    protocolError: false,
    upstreamAnswering: false,
    inFlight: 0,
    current: null,
    requests: [],
    idleWaiters: [],
    turns: [],
    overPipelined: false,
    bytesReadMark: 0,
    bytesWrittenMark: 0,
    readingMs: 0,
    sendSpanStartMs: -1,
    sendSpanTaken: 0,
    begin(request) {
      if (connection.announced > 0) connection.announced--;
      owner.idle.remove(connection);
      if (connection.requests.length === 0) connection.readingMs = 0;
      connection.requests.push(request);
      connection.inFlight++;
      connection.current = connection.requests[0] ?? null;
      owner.active();
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const i = connection.requests.indexOf(request);
        if (i >= 0) connection.requests.splice(i, 1);
        connection.inFlight--;
        connection.current = connection.requests[0] ?? null;
        if (connection.current !== null) owner.active();
        connection.readingMs = 0;
        connection.sendSpanStartMs = -1;
        if (connection.inFlight > 0) return;
        const next = connection.turns.shift();
        if (next) next();
        else if (connection.announced === 0) {
          wakeIdle(connection);
          owner.becameIdle(connection);
        }
      };
    },
    heldUpByClient: () => owner.active(),
    answered() {
      if (connection.inFlight === 1 && connection.announced === 0) owner.becameIdle(connection);
    },
    announce() {
      connection.announced++;
      owner.idle.remove(connection);
    },
    whenIdle() {
      // Announced requests (in line, or waiting for the log) count: they begin later.
      if ((connection.inFlight === 0 && connection.announced === 0) || socket.destroyed)
        return Promise.resolve();
      return new Promise((resolve) => connection.idleWaiters.push(resolve));
    },
    takeTurn() {
      if (connection.overPipelined) return 'over';
      if (socket.destroyed) return null; // it starts, finds its client gone, and says so
      // Announced requests (begun later) include the ones in line.
      const ahead = connection.inFlight + connection.announced;
      if (ahead === 0) return null;
      if (ahead >= MAX_PIPELINED_REQUESTS) {
        connection.overPipelined = true;
        return 'over';
      }
      connection.announce();
      return new Promise<void>((resolve) => connection.turns.push(resolve));
    },
  };
  return connection;
}

/** Resolves what waits for the connection to have nothing in progress (whenIdle). */
export function wakeIdle(connection: TrackedConnection): void {
  const waiters = connection.idleWaiters;
  connection.idleWaiters = [];
  for (const wake of waiters) wake();
}
