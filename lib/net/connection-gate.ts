import { createServer, type Server, type Socket } from 'node:net';

/** A TCP listener in front of a server, and how to stop it. */
export interface ConnectionGate {
  /** What listens (listen, address, getConnections here). */
  readonly front: Server;
  /** Stops listening and destroys every connection the front accepted, handed over or not. */
  close(): void;
}

/**
 * A plain TCP listener in front of a server: it accepts every connection, runs the gate's
 * `connection` listeners (per-peer shares and rates, which cut what they refuse), and hands a
 * connection none of them cut to the server (`server.emit('connection', socket)`, Node's way of
 * giving a server a socket it did not accept).
 *
 * In front of a TLS server this makes a refusal cheap: the TLS server sets up a TLS socket for
 * each connection as it is accepted, before any of its own listeners can cut it. Measured (a
 * client reconnecting in a loop, each connection reset on accept, loopback): 76 µs of the
 * server's CPU per refused connection cut by the TLS server, 21 µs cut in front of it; a completed
 * handshake costs about 900 µs.
 */
export function gateConnections(server: Server, gates: (front: Server) => void): ConnectionGate {
  // Node's HTTP server disables Nagle's algorithm on what it accepts; the front does for it.
  const front = createServer({ noDelay: true });
  const open = new Set<Socket>();
  gates(front);
  // The server behind never listens itself, but it learns when its front does: Node's HTTP server
  // starts checking its header and request timeouts on 'listening', and without it never would.
  front.on('listening', () => server.emit('listening'));
  front.on('connection', (socket: Socket) => {
    if (socket.destroyed) return;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    server.emit('connection', socket);
  });
  return {
    front,
    close() {
      front.close();
      for (const socket of open) socket.destroy();
    },
  };
}
