import type { IncomingMessage } from 'node:http';

/**
 * True when a request is a browser page navigation, which may be sent to sign in; API calls
 * (JSON, XHR, non-GET, WebSockets) get 401 with WWW-Authenticate instead of a redirect.
 */
export function isPageNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const h = req.headers;
  if (h['x-requested-with'] !== undefined || h.upgrade !== undefined) return false;
  const mode = h['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const accept = h.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}
