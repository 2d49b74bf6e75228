import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { LinkedOrder, type OrderLink } from './linked-order.ts';
import { limitConnectionsPerPeer } from './net/peer-connections.ts';

/** Bounds on the connections of an admin port (/metrics, /healthz, /readyz). */
export interface AdminConnectionLimits {
  /** Connections one peer address may hold open at once; more are closed on accept. */
  readonly perPeer: number;
  /** Connections open at once in all; at this many, the connection idle longest makes room. */
  readonly total: number;
}

/**
 * Why the admin port closed a connection on accept: `peer_limit` (its address held its share),
 * `evicted` (an idle connection closed to make room for a new one), `full` (every connection was
 * busy with a request).
 */
export type AdminConnectionClosed = 'peer_limit' | 'evicted' | 'full';

/**
 * A few connections serve an admin port (the kubelet's probes, a Prometheus scrape), so these
 * bounds are far below what a client could open: 16 from one address, 256 in all (about 10 KiB
 * each while silent).
 */
export const DEFAULT_ADMIN_CONNECTION_LIMITS: AdminConnectionLimits = Object.freeze({
  perPeer: 16,
  total: 256,
});

interface Held extends OrderLink {
  readonly socket: Socket;
  /** Requests on this connection whose responses have not finished. */
  busy: number;
}

/**
 * Holds an admin server's connections to a share per peer address and a total. Without it, one
 * client that opens connections and sends nothing holds a file descriptor and about 10 KiB each
 * until the header timeout: enough of them and the process can accept nothing on any port (its
 * open-file limit), or its container's memory limit ends it, and the kubelet's probes fail with
 * the traffic. At the total a new connection closes the one idle longest (a request answered
 * or none sent), so a probe gets in while silent connections hold the port; it is refused only
 * when every connection is in the middle of a request.
 */
export function guardAdminConnections(
  server: Server,
  limits: AdminConnectionLimits,
  onClosed: (reason: AdminConnectionClosed) => void,
): void {
  limitConnectionsPerPeer(server, limits.perPeer, () => onClosed('peer_limit'));
  const open = new Map<Socket, Held>();
  const idle = new LinkedOrder<Held>();

  const release = (held: Held): void => {
    open.delete(held.socket);
    idle.remove(held);
  };

  // Registered after the share per peer: a connection it closed is not counted here.
  server.on('connection', (socket: Socket) => {
    if (socket.destroyed) return;
    if (open.size >= limits.total) {
      const longest = idle.first();
      if (longest === null) {
        onClosed('full');
        socket.destroy();
        return;
      }
      onClosed('evicted');
      release(longest);
      longest.socket.destroy();
    }
    const held: Held = { socket, busy: 0, orderPrev: null, orderNext: null, inOrder: false };
    open.set(socket, held);
    idle.append(held);
    socket.once('close', () => release(held));
  });

  server.on('request', (req, res) => {
    const held = open.get(req.socket);
    if (held === undefined) return;
    held.busy++;
    idle.remove(held);
    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      held.busy--;
      if (held.busy === 0 && open.has(held.socket)) idle.append(held);
    };
    res.once('finish', finished);
    res.once('close', finished);
  });
}
