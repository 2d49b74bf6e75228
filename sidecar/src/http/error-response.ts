import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpError } from '../errors.ts';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small self-contained page for browsers: what happened, and the id to quote to support. */
export function errorPage(status: number, message: string, requestId: string): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:10vh auto;padding:0 1rem;color:#1f2328}h1{font-size:1.5rem}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}footer{margin-top:2rem;color:#656d76;font-size:.875rem}</style></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><footer>Request ID <code>${escapeHtml(requestId)}</code> &middot; Gatehouse</footer></body></html>`;
}

function wantsHtml(accept: string | undefined): boolean {
  return accept?.includes('text/html') === true;
}

/** Body, content type and headers for an error, negotiated from Accept (HTML for browsers, JSON otherwise). */
function errorBody(
  error: HttpError,
  requestId: string,
  accept: string | undefined,
): { type: string; body: string } {
  if (wantsHtml(accept))
    return {
      type: 'text/html; charset=utf-8',
      body: errorPage(error.status, error.publicMessage, requestId),
    };
  return {
    type: 'application/json',
    body: JSON.stringify({ error: error.code, message: error.publicMessage, requestId }),
  };
}

/** Answers a request with an error: clear page or JSON, request id header, never cached. */
export function sendError(
  res: ServerResponse,
  error: HttpError,
  requestId: string,
  requestIdHeader: string,
  accept: string | undefined,
  close: boolean,
): void {
  const { type, body } = errorBody(error, requestId, accept);
  const headers: Record<string, string | number> = {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [requestIdHeader]: requestId,
    ...error.headers,
  };
  if (close) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}

/** Writes an error straight onto a raw socket (upgrade requests and parse errors) and closes it. */
export function sendRawError(
  socket: Socket,
  error: HttpError,
  requestId: string,
  requestIdHeader: string,
  accept?: string,
): number {
  const { type, body } = errorBody(error, requestId, accept);
  const head =
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    `content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n` +
    `${requestIdHeader}: ${requestId}\r\n` +
    Object.entries(error.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    'connection: close\r\n\r\n';
  const text = head + body;
  if (socket.writable) socket.end(text);
  else socket.destroy();
  return Buffer.byteLength(text);
}
