import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether a state-changing request (a POST) comes from a page of this site: `Sec-Fetch-Site:
 * same-origin` when the browser sends it, and an `Origin` naming the host asked (or the
 * sign-in origin). A request with neither header is refused: every current browser sends
 * Origin with a POST, and anything else has no business ending a session.
 */
export function fromSameOrigin(
  headers: IncomingHttpHeaders,
  host: string,
  externalOrigin: string | null,
): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = headers.origin;
  if (origin === undefined || origin === 'null') return site === 'same-origin';
  try {
    const parsed = new URL(origin);
    return parsed.host === host || parsed.origin === externalOrigin;
  } catch {
    return false;
  }
}
