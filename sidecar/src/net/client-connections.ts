import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { LinkedOrder } from '../../../lib/linked-order.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { resetConnection } from '../../../lib/net/connection-reset.ts';
import type { ProxyHeaderProblem } from '../../../lib/net/proxy-protocol.ts';
import {
  type ClientConnection,
  type ConnectionOwner,
  type TrackedConnection,
  trackConnection,
  wakeIdle,
} from './client-connection.ts';
import { type ClientRateLimits, createClientRateCheck } from './client-rate-check.ts';
import { readProxyHeader } from './proxy-header-intake.ts';

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
  /** Stops the periodic rate check. */
  close(): void;
}

/**
 * Time a connection whose sending side the sidecar has ended keeps, for its client to read the
 * last answer and close; then it is destroyed. The server lets clients half-close (RFC 9112
 * §9.6), so an ended socket stays open until its client closes too, and one that never did
 * held the connection for good (a refused handshake, `CONNECT`, a malformed head).
 */
export const CLOSING_LINGER_MS = 2_000;

/**
 * Takes ownership of every socket the server accepts: an error listener for the socket's whole
 * life (Node drops its own when a socket is handed over for an upgrade, so a reset during the
 * handshake would otherwise end the process), tracking for shutdown, the connection cap, and a
 * once-a-second check (while a request is being read, or a response waits on its client) of
 * requests whose bodies arrive too slowly, whose total time ran out, or whose clients take their
 * responses too slowly.
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
  limits: ClientRateLimits,
  cap: ConnectionCap,
  proxyHeaders: ProxyHeaders | null = null,
): ClientConnections {
  // Node's own connection listener, which starts HTTP on a socket, runs when the connection's
  // owner says: after the PROXY header, when there is one (Node's documented way to give a server
  // a socket it did not set up itself, without a second listener in front of it).
  const startHttp = takeHttpConnectionListener(server);
  const open = new Map<Socket, TrackedConnection>();
  // Connections with no request in progress and no tunnel, in the order they became idle.
  const idle = new LinkedOrder<TrackedConnection>();

  /** Moves a connection with nothing in progress to the end of the idle order. */
  const becameIdle = (connection: TrackedConnection): void => {
    if (connection.announced > 0 || connection.upgraded || !open.has(connection.socket)) return;
    idle.append(connection);
  };
  const rates = createClientRateCheck(() => open.values(), limits);
  const owner: ConnectionOwner = { idle, becameIdle, active: rates.whileActive };
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
    const connection = trackConnection(socket, peerIp, owner);
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
  const startAfterProxyHeader = (connection: TrackedConnection, headers: ProxyHeaders): void => {
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
      if (outcome.kind === 'proxied') {
        connection.peerIp = normaliseIp(outcome.source);
        connection.privateEndpoint = outcome.endpoint;
      } else if (outcome.kind === 'missing') connection.proxyHeaderMissing = headers.required();
      // The header's bytes belong to no request (its bytesIn, the header timeout's "sent nothing").
      connection.bytesReadMark = socket.bytesRead - outcome.rest.length;
      // As for every connection: the HTTP server's listeners first, then the owner's.
      startHttp(socket);
      watchLifecycle(connection);
    });
  };

  /** What a connection's close, FIN and end of sending mean for its requests and for the cap. */
  const watchLifecycle = (connection: TrackedConnection): void => {
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
    close: rates.close,
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
