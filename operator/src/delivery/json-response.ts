import type { ServerResponse } from 'node:http';

/** Answers with a JSON body, never cached (config, keys, refusals and admission answers alike). */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
