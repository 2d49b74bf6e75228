import type { Server, Socket } from 'node:net';
import { normaliseIp } from './client-ip.ts';

/**
 * Closes, on accept, a connection whose peer address already holds `perPeer` of the server's
 * connections. Counted on the TCP connection, before any TLS handshake, so it bounds clients that
 * open connections and never say a word.
 */
export function limitConnectionsPerPeer(server: Server, perPeer: number, onRefused: () => void): void {
  const held = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const peer = normaliseIp(socket.remoteAddress ?? '');
    const mine = held.get(peer) ?? 0;
    if (mine >= perPeer) {
      onRefused();
      socket.destroy();
      return;
    }
    held.set(peer, mine + 1);
    socket.once('close', () => {
      const left = (held.get(peer) ?? 1) - 1;
      if (left === 0) held.delete(peer);
      else held.set(peer, left);
    });
  });
}
