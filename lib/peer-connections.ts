import type { Server, Socket } from 'node:net';

/** The address a peer is counted under: an IPv4-mapped IPv6 address as its IPv4 form. */
export function peerKey(socket: Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Closes, on accept, a connection whose peer address already holds `perPeer` of the server's
 * connections. Counted on the TCP connection, before any TLS handshake, so it bounds clients that
 * open connections and never say a word.
 */
export function limitConnectionsPerPeer(server: Server, perPeer: number, onRefused: () => void): void {
  const held = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const peer = peerKey(socket);
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
