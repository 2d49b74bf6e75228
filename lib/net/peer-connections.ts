import type { Server, Socket } from 'node:net';
import { type TokenBucketRate, TokenBuckets } from '../token-buckets.ts';
import { normaliseIp } from './client-ip.ts';
import { resetConnection } from './connection-reset.ts';

/**
 * Closes, on accept, a connection whose peer address already holds `perPeer` of the server's
 * connections. Counted on the TCP connection, before any TLS handshake, so it bounds clients that
 * open connections and never say a word. A connection an earlier listener cut is not counted.
 */
export function limitConnectionsPerPeer(server: Server, perPeer: number, onRefused: () => void): void {
  const held = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    if (socket.destroyed) return;
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

/**
 * Resets, on accept, a connection from a peer address that opens connections faster than `rate`
 * (a burst, then so many a second), before a byte of it is read. On a TLS port each connection
 * costs the server a handshake; register this before the server's other `connection` listeners
 * that count or keep sockets.
 */
export function limitConnectionRatePerPeer(
  server: Server,
  rate: TokenBucketRate,
  onRefused: () => void,
): void {
  const opens = new TokenBuckets(rate);
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    if (socket.destroyed) return;
    if (opens.take(normaliseIp(socket.remoteAddress ?? '')) === 0) return;
    onRefused();
    resetConnection(socket);
  });
}
