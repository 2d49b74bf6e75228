import type { IncomingMessage } from 'node:http';
import type { BodyHold } from './body-budget.ts';

/** What reading a request body came to. */
export type BodyRead =
  | { readonly kind: 'complete'; readonly text: string }
  | { readonly kind: 'too_large' }
  /** The server's budget for bodies in memory (the client's share, or the total) is spent. */
  | { readonly kind: 'over_budget' }
  | { readonly kind: 'gone' };

/**
 * Reads a request body of at most maxBytes. Ends as soon as the body is complete, too large, or
 * its connection is gone: the socket's close is watched, because a request whose connection the
 * server closed (after answering it early, say 408) never ends or closes as a stream, and a
 * reader waiting on it would be held for ever. With a hold, each chunk is taken from a budget
 * before it is kept; the caller releases the hold when it has handled the request. `invite` runs
 * once the body is to be read, before its first byte is taken (it sends a 100 Continue owed).
 */
export function readRequestBody(
  req: IncomingMessage,
  maxBytes: number,
  hold?: BodyHold,
  invite?: () => void,
): Promise<BodyRead> {
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
    // A body that says its length is judged before a byte of it is read (Node's parser holds it
    // to that length); one sent in chunks is taken from the budget as it arrives.
    const declared =
      req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    let taken = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) finish({ kind: 'too_large' });
      else if (hold && !taken && !hold.take(chunk.length)) finish({ kind: 'over_budget' });
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: 'complete', text: Buffer.concat(chunks).toString('utf8') });
    const onGone = (): void => finish({ kind: 'gone' });
    if (req.complete && req.readableEnded) return onEnd();
    if (socket.destroyed) return onGone();
    if (declared !== undefined && declared > maxBytes) return resolve({ kind: 'too_large' });
    if (declared !== undefined && hold) {
      if (!hold.take(declared)) return resolve({ kind: 'over_budget' });
      taken = true;
    }
    invite?.(); // a body judged acceptable by its declared size is asked for (Expect: 100-continue)
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    socket.once('close', onGone);
  });
}
