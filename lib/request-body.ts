import type { IncomingMessage } from 'node:http';

/** What reading a request body came to. */
export type BodyRead =
  | { readonly kind: 'complete'; readonly text: string }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'gone' };

/**
 * Reads a request body of at most maxBytes. Ends as soon as the body is complete, too large, or
 * its connection is gone: the socket's close is watched, because a request whose connection the
 * server closed (after answering it early, say 408) never ends or closes as a stream, and a
 * reader waiting on it would be held for ever.
 */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = req.socket;
    const finish = (result: BodyRead): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      socket.off('close', onGone);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) finish({ kind: 'too_large' });
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: 'complete', text: Buffer.concat(chunks).toString('utf8') });
    const onGone = (): void => finish({ kind: 'gone' });
    if (req.complete && req.readableEnded) return onEnd();
    if (socket.destroyed) return onGone();
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    socket.once('close', onGone);
  });
}
