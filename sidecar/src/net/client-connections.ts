import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestFault } from '../../../contract/error-causes.ts';
import { LinkedOrder, type OrderLink } from '../../../lib/linked-order.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { resetConnection } from '../../../lib/net/connection-reset.ts';
import type { ProxyHeaderProblem } from '../../../lib/net/proxy-protocol.ts';
import { readProxyHeader } from './proxy-header-intake.ts';

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
  /** Registers a request; the returned function marks it finished (idempotent). */
  begin(request: ConnectionRequest): () => void;
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
  /** Ends the request early with a timeout: answers it if it can, else closes the connection. */
  timeout(reason: 'body_too_slow' | 'request_deadline'): void;
  /** The connection broke mid-request (a parse error in its body, or the client's FIN mid-body). */
  broken(code: string, cause: RequestFault): void;
  /**
   * The client sent FIN. Before the response starts this is a half-close (RFC 9112 §9.6) and the
   * request goes on; once the response is streaming it means the client has gone.
   */
  peerEnded(): void;
}

/** Limits on how slowly a client may send a request (after Apache's mod_reqtimeout). */
export interface RequestReadLimits {
  /** Time allowed for the body before the rate extension (ms); 0 turns the body check off. */
  readonly bodyTimeoutMs: number;
  /** Each this many body bytes received extend the body time by one second. */
  readonly bodyMinRate: number;
  /** Total time from the first byte of the head to the last byte of the body (ms); 0 = none. */
  readonly requestTimeoutMs: number;
}

/** How many client connections may be open at once, and what to say when the cap is met. */
export interface ConnectionCap {
  /** Most client connections open at once (--max-connections). */
  readonly maxConnections: number;
  /** A new connection was closed on accept: the cap was met and every connection was busy. */
  onDropped(): void;
  /** An idle connection was closed to make room for a new one at the cap. */
  onEvicted(): void;
}

/** Where PROXY protocol headers are read, and what becomes of a connection whose header fails. */
export interface ProxyHeaders {
  /** Whether connections from this peer begin with a PROXY header (the installed config's ranges). */
  expectedFrom(peerIp: string): boolean;
  /** Whether one of them that sends no header is refused (else it is served as its peer's). */
  required(): boolean;
  /** Time from accept for the header to be whole (ms). */
  readonly timeoutMs: number;
  /**
   * The header broke the protocol, or did not come whole in time after `received` bytes of it:
   * nothing after it can be read as HTTP. The socket is the callee's to answer and close.
   */
  refused(socket: Socket, outcome: ProxyHeaderRefusal): void;
}

/** How a PROXY header failed. */
export type ProxyHeaderRefusal =
  | { readonly kind: 'invalid'; readonly reason: ProxyHeaderProblem }
  | { readonly kind: 'timeout'; readonly received: number };

/** The owner of every client socket's lifetime: accept, error path, timeouts, shutdown. */
export interface ClientConnections {
  /** The connection for a socket the server accepted. */
  of(socket: Socket): ClientConnection | undefined;
  readonly size: number;
  /**
   * Cuts one client connection. With a request in progress or a tunnel it is reset (RST): closed,
   * it kept what was queued for it in the kernel (the megabytes of a download nobody read) while
   * the kernel probed its closed window for minutes, after the process had exited too. Without
   * one it is closed: its last answer may still be on its way to a slow client.
   */
  cut(socket: Socket): void;
  /** Cuts every client socket still open, upgraded ones included (the end of a shutdown's grace). */
  cutAll(): void;
  /** Stops the periodic read-rate check. */
  close(): void;
}

const CHECK_INTERVAL_MS = 1_000;

/**
 * Time a connection whose sending side the sidecar has ended keeps, for its client to read the
 * last answer and close; then it is destroyed. The server lets clients half-close (RFC 9112
 * §9.6), so an ended socket stays open until its client closes too, and one that never did
 * held the connection for good (a refused handshake, `CONNECT`, a malformed head).
 */
export const CLOSING_LINGER_MS = 2_000;

interface Tracked extends ClientConnection, OrderLink {
  /** Set once, from the PROXY header, before the HTTP server sees the connection. */
  peerIp: string;
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

/**
 * Takes ownership of every socket the server accepts: an error listener for the socket's whole
 * life (Node drops its own when a socket is handed over for an upgrade, so a reset during the
 * handshake would otherwise end the process), tracking for shutdown, the connection cap, and a
 * once-a-second check (while a request is being read) of requests whose bodies arrive too slowly
 * or whose total time ran out.
 *
 * At the cap a new connection closes the connection idle longest (no request in progress: it
 * never sent one, or its answers are out and it is kept alive), as nginx reuses its idle
 * keep-alive connections when it runs out: one client that opens connections and sends nothing
 * (or trickles a head) cannot keep everyone else out until its header timeouts, and an idle
 * keep-alive connection is cheaper to lose than a new client. Only when every connection is in
 * the middle of a request or a tunnel is the new one closed on accept.
 */
export function createClientConnections(
  server: Server,
  limits: RequestReadLimits,
  cap: ConnectionCap,
  proxyHeaders: ProxyHeaders | null = null,
): ClientConnections {
  // Node's own connection listener, which starts HTTP on a socket, runs when the connection's
  // owner says: after the PROXY header, when there is one (Node's documented way to give a server
  // a socket it did not set up itself, without a second listener in front of it).
  const startHttp = takeHttpConnectionListener(server);
  const open = new Map<Socket, Tracked>();
  // Connections with no request in progress and no tunnel, in the order they became idle.
  const idle = new LinkedOrder<Tracked>();

  /** Moves a connection with nothing in progress to the end of the idle order. */
  const becameIdle = (connection: Tracked): void => {
    if (connection.announced > 0 || connection.upgraded || !open.has(connection.socket)) return;
    idle.append(connection);
  };
  const makeRoom = (): boolean => {
    const longest = idle.first();
    if (longest === null) return false;
    idle.remove(longest);
    open.delete(longest.socket);
    longest.socket.destroy();
    cap.onEvicted();
    return true;
  };

  server.on('connection', (socket: Socket) => {
    // An error listener for the socket's whole life: Node removes its own when it hands the socket
    // over for an upgrade, and an 'error' with no listener ends the process. What the error means
    // for a request (reset, broken pipe) reaches it through 'close'.
    socket.on('error', () => undefined);
    // Reading the address now also caches it for the socket's life. A peer that has already
    // reset has none: nothing it sent may be served, since no policy could judge its address.
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy();
      return;
    }
    // On a listener on every address an IPv4 client arrives as ::ffff:a.b.c.d: it is logged,
    // judged and given its share as a.b.c.d, as on an IPv4 listener.
    const peerIp = normaliseIp(remote);
    if (open.size >= cap.maxConnections && !makeRoom()) {
      cap.onDropped();
      socket.destroy();
      return;
    }
    const connection: Tracked = {
      socket,
      peerIp,
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
      begin(request) {
        if (connection.announced > 0) connection.announced--;
        idle.remove(connection);
        if (connection.requests.length === 0) connection.readingMs = 0;
        connection.requests.push(request);
        connection.inFlight++;
        connection.current = connection.requests[0] ?? null;
        checkWhileReading();
        let done = false;
        return () => {
          if (done) return;
          done = true;
          const i = connection.requests.indexOf(request);
          if (i >= 0) connection.requests.splice(i, 1);
          connection.inFlight--;
          connection.current = connection.requests[0] ?? null;
          if (connection.current !== null) checkWhileReading();
          connection.readingMs = 0;
          if (connection.inFlight > 0) return;
          const next = connection.turns.shift();
          if (next) next();
          else if (connection.announced === 0) {
            wakeIdle(connection);
            becameIdle(connection);
          }
        };
      },
      answered() {
        if (connection.inFlight === 1 && connection.announced === 0) becameIdle(connection);
      },
      announce() {
        connection.announced++;
        idle.remove(connection);
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
    open.set(socket, connection);
    idle.append(connection);
    if (proxyHeaders?.expectedFrom(peerIp)) {
      startAfterProxyHeader(connection, proxyHeaders);
      return;
    }
    startHttp(socket);
    watchLifecycle(connection);
  });

  /**
   * Reads a connection's PROXY header before the HTTP server sees a byte of it. Until the header
   * is whole the connection is idle (the cap may close it to make room) and only its close is
   * watched. Then HTTP starts on what follows, from the client the header named; or, for a broken
   * header or one not whole in time, the connection is the refusal's to answer and close.
   */
  const startAfterProxyHeader = (connection: Tracked, headers: ProxyHeaders): void => {
    const socket = connection.socket;
    const gone = (): void => {
      open.delete(socket);
      idle.remove(connection);
    };
    socket.once('close', gone);
    readProxyHeader(socket, headers.timeoutMs, (outcome) => {
      socket.removeListener('close', gone);
      if (outcome.kind === 'gone' || socket.destroyed) {
        gone();
        socket.destroy();
        return;
      }
      if (outcome.kind === 'invalid' || outcome.kind === 'timeout') {
        watchLifecycle(connection);
        headers.refused(socket, outcome);
        return;
      }
      if (outcome.kind === 'proxied') connection.peerIp = normaliseIp(outcome.source);
      else if (outcome.kind === 'missing') connection.proxyHeaderMissing = headers.required();
      // The header's bytes belong to no request (its bytesIn, the header timeout's "sent nothing").
      connection.bytesReadMark = socket.bytesRead - outcome.rest.length;
      // As for every connection: the HTTP server's listeners first, then the owner's.
      startHttp(socket);
      watchLifecycle(connection);
    });
  };

  /** What a connection's close, FIN and end of sending mean for its requests and for the cap. */
  const watchLifecycle = (connection: Tracked): void => {
    const socket = connection.socket;
    socket.on('end', () => connection.current?.peerEnded());
    // The sidecar has ended its side (an answer that closes the connection, a refused handshake,
    // a tunnel whose application left): no tunnel any more, only a close waiting for the client,
    // which the cap may close to make room and which ends CLOSING_LINGER_MS later whatever the
    // client does. Before, a refused handshake counted as a tunnel until its client closed, and
    // clients that never did filled the cap: every new connection was then closed on accept.
    socket.once('finish', () => {
      connection.upgraded = false;
      becameIdle(connection);
      const linger = setTimeout(() => socket.destroy(), CLOSING_LINGER_MS);
      linger.unref();
      socket.once('close', () => clearTimeout(linger));
    });
    socket.once('close', () => {
      open.delete(socket);
      idle.remove(connection);
      // The requests still in line start and find their client gone, so each writes its line.
      const waiting = connection.turns;
      connection.turns = [];
      for (const start of waiting) start();
      wakeIdle(connection);
    });
  };

  server.on('upgrade', (_req, socket: Socket) => {
    const connection = open.get(socket);
    if (connection === undefined) return;
    connection.upgraded = true;
    idle.remove(connection);
  });

  // The check runs only while a request is being read: a sidecar at rest is not woken for it,
  // nor one whose idle keep-alive connections an ingress holds open.
  let check: NodeJS.Timeout | null = null;
  let closed = false;
  const checkReads = (): void => {
    const now = performance.now();
    let beingRead = 0;
    for (const connection of open.values()) {
      const request = connection.current;
      if (request === null) continue;
      const reading = request.reading();
      if (reading === 'done') continue;
      beingRead++;
      if (limits.requestTimeoutMs > 0 && now - request.startedAtMs > limits.requestTimeoutMs) {
        request.timeout('request_deadline');
        continue;
      }
      if (reading === 'held' || limits.bodyTimeoutMs === 0) continue;
      connection.readingMs += CHECK_INTERVAL_MS;
      const received = connection.socket.bytesRead - connection.bytesReadMark;
      const allowed = limits.bodyTimeoutMs + (received / limits.bodyMinRate) * 1000;
      if (connection.readingMs > allowed) request.timeout('body_too_slow');
    }
    if (beingRead === 0 && check !== null) {
      clearInterval(check);
      check = null;
    }
  };
  const checkWhileReading = (): void => {
    if (check !== null || closed) return;
    check = setInterval(checkReads, CHECK_INTERVAL_MS);
    check.unref();
  };

  const cut = (socket: Socket): void => {
    const connection = open.get(socket);
    if (connection?.current || connection?.upgraded) resetConnection(socket);
    else socket.destroy();
  };

  return {
    of: (socket) => open.get(socket),
    get size() {
      return open.size;
    },
    cut,
    cutAll() {
      for (const socket of [...open.keys()]) cut(socket);
    },
    close() {
      closed = true;
      if (check !== null) clearInterval(check);
      check = null;
    },
  };
}

/**
 * Removes the HTTP server's own 'connection' listener (the one that sets up HTTP on a socket) and
 * returns it, to be run for each socket when its owner is ready. Node's HTTP server registers
 * exactly one, as it is constructed; anything else is a defect of this process.
 */
function takeHttpConnectionListener(server: Server): (socket: Socket) => void {
  const listeners = server.rawListeners('connection');
  const [listener] = listeners;
  if (listeners.length !== 1 || typeof listener !== 'function')
    throw new Error(
      `the HTTP server has ${listeners.length} connection listeners; it must have its own alone`,
    );
  server.removeListener('connection', listener as (socket: Socket) => void);
  return (socket) => (listener as (this: Server, socket: Socket) => void).call(server, socket);
}

function wakeIdle(connection: Tracked): void {
  const waiters = connection.idleWaiters;
  connection.idleWaiters = [];
  for (const wake of waiters) wake();
}
