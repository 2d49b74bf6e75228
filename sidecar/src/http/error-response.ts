import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpError } from '../../../contract/errors.ts';
import type { LocalResponse } from './local-response.ts';
import { escapeHtml, gatewayPage } from './page.ts';

/** A small self-contained page for browsers: what happened, and the id to quote to support. */
export function errorPage(status: number, message: string, requestId: string): string {
  return gatewayPage(
    `${status} ${STATUS_CODES[status] ?? 'Error'}`,
    `<p>${escapeHtml(message)}</p>`,
    requestId,
  );
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
  cookies: readonly string[] = [],
): void {
  const { type, body } = errorBody(error, requestId, accept);
  const headers: Record<string, string | number | readonly string[]> = {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [requestIdHeader]: requestId,
    ...error.headers,
  };
  if (close) headers.connection = 'close';
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  // The reason phrase is given: one left by a writeHead that failed would stay (`502 OK`).
  res.writeHead(
    error.status,
    STATUS_CODES[error.status] ?? 'Error',
    headers as Record<string, string | number | string[]>,
  );
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
  return sendRaw(socket, error.status, type, body, [
    requestIdHeader,
    requestId,
    ...Object.entries(error.headers).flat(),
  ]);
}

/** Writes a page of the gateway straight onto a raw socket (parse errors of browsers) and closes it. */
export function sendRawPage(
  socket: Socket,
  status: number,
  html: string,
  requestId: string,
  requestIdHeader: string,
  cookies: readonly string[],
): number {
  return sendRaw(socket, status, 'text/html; charset=utf-8', html, [
    requestIdHeader,
    requestId,
    ...cookies.flatMap((cookie) => ['set-cookie', cookie]),
  ]);
}

/** One response, never cached, its connection closed after it; `headers` are name, value pairs. */
function sendRaw(
  socket: Socket,
  status: number,
  type: string,
  body: string,
  headers: readonly string[],
): number {
  let head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  const text = `${head}connection: close\r\n\r\n${body}`;
  // Ended, the connection is closed a moment later whatever its client does (client-connections.ts).
  if (socket.writable) socket.end(text);
  else socket.destroy();
  return Buffer.byteLength(text);
}

/** Writes a gateway response (redirect or page) with the request id; closes when asked. */
export function sendLocal(
  res: ServerResponse,
  local: LocalResponse,
  requestId: string,
  requestIdHeader: string,
  close: boolean,
  cookies: readonly string[] = [],
): void {
  // The request's cookies (an ended session's deletion) before the answer's own: a browser applies
  // Set-Cookie lines in order, so a sign-in's new session must come after the deletion of the
  // session cookie it still sent, or the browser is left signed out.
  const headers = [
    ...cookies.flatMap((c) => ['set-cookie', c]),
    ...local.headers,
    'content-length',
    String(Buffer.byteLength(local.body)),
    requestIdHeader,
    requestId,
  ];
  if (close) headers.push('connection', 'close');
  res.writeHead(local.status, headers);
  res.end(local.body);
}
