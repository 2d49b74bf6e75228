import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Most `103 Early Hints` relayed for one request. An application that sends more (each one
 * restarts undici's wait for the response head) gets the rest dropped, so it cannot make the
 * sidecar write to a client without end before the answer.
 */
export const MAX_EARLY_HINTS = 4;

/**
 * Relays the `Link` headers of a `103 Early Hints` from the application (preloads a browser may
 * start while the page is made), when the client may have one: HTTP/1.1 (RFC 9110 §15.2: none to
 * HTTP/1.0), before the final response, and under MAX_EARLY_HINTS. Only `Link` is relayed; a hint
 * without one, or whose links Node.js refuses to write, is dropped. True when it was written.
 */
export function relayEarlyHints(res: ServerResponse, headers: IncomingHttpHeaders, relayed: number): boolean {
  if (relayed >= MAX_EARLY_HINTS || res.headersSent || res.destroyed || res.req.httpVersion !== '1.1')
    return false;
  const link = headers.link;
  if (link === undefined || link.length === 0) return false;
  try {
    res.writeEarlyHints({ link });
    return true;
  } catch {
    return false;
  }
}
