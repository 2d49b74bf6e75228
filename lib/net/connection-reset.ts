import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * Cutting a connection with a TCP reset (RST) instead of a close.
 *
 * A socket closed while its peer reads nothing keeps what was written to it: the kernel holds the
 * send queue of the orphaned connection (FIN-WAIT-1) and probes the peer's closed window for
 * minutes before it gives up, charged to the process's memory cgroup. A reset drops the queue at
 * once (nginx's `reset_timedout_connection`). Measured: 250 operator config streams of a 3.7 MB
 * config, closed, left 337 MiB in send queues; 64 sidecar downloads nobody read, closed at the
 * client idle timeout, 234 MiB (bench/unread-answers.ts).
 */

/**
 * Cuts a plain TCP connection with a reset (RST), so the kernel drops what it still held for a
 * peer that reads nothing; a socket that is not TCP (a Unix socket) is destroyed.
 */
export function resetConnection(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Cuts a TLS server's connections with a reset (a TLS socket already closed is left alone).
 * Node.js resets only a plain TCP socket (`resetAndDestroy` throws on a TLSSocket:
 * nodejs/node#49484), so the TCP socket under each TLS connection is kept from the server's
 * `connection` event, found again by the peer's address and port.
 */
export function tlsConnectionReset(server: Server): (socket: TLSSocket) => void {
  const raw = new Map<string, Socket>();
  const keyOf = (socket: Socket): string | undefined =>
    socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    if (key === undefined) return;
    raw.set(key, socket);
    socket.once('close', () => {
      if (raw.get(key) === socket) raw.delete(key);
    });
  });
  return (socket) => {
    if (socket.destroyed) return;
    const key = keyOf(socket);
    const tcp = key === undefined ? undefined : raw.get(key);
    if (tcp) resetConnection(tcp);
    socket.destroy();
  };
}
