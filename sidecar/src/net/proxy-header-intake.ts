import type { Socket } from 'node:net';
import { type ProxyHeader, ProxyHeaderReader } from '../../../lib/net/proxy-protocol.ts';

/** How reading a connection's PROXY header ended. */
export type ProxyIntake =
  | ProxyHeader
  /** No whole header in the time allowed; `received` bytes of one had come. */
  | { readonly kind: 'timeout'; readonly received: number }
  /** The peer closed, reset or was closed (to make room, at shutdown) before its header was whole. */
  | { readonly kind: 'gone' };

/**
 * Reads the PROXY header a load balancer begins a connection with, before the HTTP server sees a
 * byte: whatever follows it is put back on the socket for the server. The header must be whole
 * within `timeoutMs` of the accept, however slowly it trickles; it is read in paused mode and
 * nothing but the reader's few bytes is kept. `done` is called once (never for a socket that is
 * handed on: its listeners are all removed first).
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  done: (outcome: ProxyIntake) => void,
): void {
  const reader = new ProxyHeaderReader();
  let received = 0;
  const finish = (outcome: ProxyIntake): void => {
    clearTimeout(timer);
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onGone);
    socket.removeListener('close', onGone);
    done(outcome);
  };
  const onReadable = (): void => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      received += chunk.length;
      const outcome = reader.push(chunk);
      if (outcome === null) continue;
      // Paused, a read takes all there is: nothing else is buffered behind what goes back.
      if (outcome.kind !== 'invalid' && outcome.rest.length > 0) socket.unshift(outcome.rest);
      finish(outcome);
      return;
    }
  };
  const onGone = (): void => finish({ kind: 'gone' });
  const timer = setTimeout(() => finish({ kind: 'timeout', received }), timeoutMs);
  socket.on('readable', onReadable);
  socket.once('end', onGone);
  socket.once('close', onGone);
}
