import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { peerKey } from './peer-connections.ts';

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

interface Held {
  readonly peer: string;
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
  // Insertion order is the order connections became idle: a connection is moved to the end each
  // time its last request finishes, so the first idle one met is the one idle longest.
  const open = new Map<Socket, Held>();
  const perPeer = new Map<string, number>();

  const release = (socket: Socket): void => {
    const held = open.get(socket);
    if (held === undefined) return;
    open.delete(socket);
    const left = (perPeer.get(held.peer) ?? 1) - 1;
    if (left === 0) perPeer.delete(held.peer);
    else perPeer.set(held.peer, left);
  };

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const peer = peerKey(socket);
    if ((perPeer.get(peer) ?? 0) >= limits.perPeer) {
      onClosed('peer_limit');
      socket.destroy();
      return;
    }
    if (open.size >= limits.total) {
      const idle = firstIdle(open);
      if (idle === undefined) {
        onClosed('full');
        socket.destroy();
        return;
      }
      onClosed('evicted');
      release(idle);
      idle.destroy();
    }
    open.set(socket, { peer, busy: 0 });
    perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1);
    socket.once('close', () => release(socket));
  });

  server.on('request', (req, res) => {
    const socket = req.socket;
    const held = open.get(socket);
    if (held === undefined) return;
    held.busy++;
    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      held.busy--;
      if (held.busy === 0 && open.has(socket)) {
        open.delete(socket);
        open.set(socket, held);
      }
    };
    res.once('finish', finished);
    res.once('close', finished);
  });
}

function firstIdle(open: ReadonlyMap<Socket, Held>): Socket | undefined {
  for (const [socket, held] of open) if (held.busy === 0) return socket;
  return undefined;
}
