import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Calls `gone` once, when the response closes or its connection does, whichever comes first.
 * A pipelined response still queued behind another when the connection closes never emits
 * `close` itself (Node destroys it, but a response acts on that only once it has a socket, which
 * it never gets), so waiting on the response alone would wait for ever and lose the line.
 */
export function onResponseGone(res: ServerResponse, socket: Socket, gone: () => void): void {
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    res.off('close', once);
    socket.off('close', once);
    gone();
  };
  if (res.closed || socket.destroyed) {
    queueMicrotask(once);
    return;
  }
  res.once('close', once);
  socket.once('close', once);
}

/** Resolves when the response or its connection has closed. */
export function responseGone(res: ServerResponse, socket: Socket): Promise<void> {
  return new Promise((resolve) => onResponseGone(res, socket, resolve));
}
