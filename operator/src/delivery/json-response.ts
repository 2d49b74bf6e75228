import type { IncomingMessage, ServerResponse } from 'node:http';
import { readRequestBody } from '../../../lib/request-body.ts';

/** Answers with a JSON body, never cached (config, keys, refusals and admission answers alike). */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Reads a request body up to maxBytes; undefined when it is larger or its connection is gone. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const body = await readRequestBody(req, maxBytes);
  return body.kind === 'complete' ? body.text : undefined;
}
