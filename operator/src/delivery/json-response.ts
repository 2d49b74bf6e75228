import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyHold } from '../../../lib/body-budget.ts';
import { readRequestBody } from '../../../lib/request-body.ts';
import type { StreamRefusal } from './sidecar-identity.ts';

/** Answers with a JSON body, never cached (config, keys, refusals and admission answers alike). */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Answers a refused sidecar: the refusal's status and code, with Retry-After when it has one. */
export function sendRefusal(res: ServerResponse, refusal: StreamRefusal): void {
  if (refusal.retryAfterSeconds !== undefined)
    res.setHeader('retry-after', String(refusal.retryAfterSeconds));
  sendJson(res, refusal.status, { error: refusal.reason, message: refusal.message });
}

/**
 * Reads a request body of at most maxBytes, taken from `hold`. When it cannot be read whole,
 * answers for it and resolves undefined: 413 when it is larger, 503 with Retry-After when the
 * port's budget for bodies is spent, nothing when the connection is gone. What is still to come
 * of a refused body is read and dropped (within the request timeout), not kept; closing at once
 * would reset a connection whose client is still sending, and could lose the answer.
 */
export async function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  hold: BodyHold,
): Promise<string | undefined> {
  const body = await readRequestBody(req, maxBytes, hold);
  if (body.kind === 'complete') return body.text;
  if (body.kind === 'gone') return undefined;
  if (body.kind === 'too_large') {
    sendJson(res, 413, { error: 'too_large', message: `at most ${maxBytes} bytes` });
  } else {
    res.setHeader('retry-after', '1');
    sendJson(res, 503, { error: 'busy', message: 'too many request bodies in progress; retry shortly' });
  }
  return undefined;
}
