import type { GatehouseErrorCode } from '../../../contract/errors.ts';

/** How a request answered by the gateway itself ended, for the log line. */
export type LocalOutcome = 'login_redirect' | 'gateway' | 'denied' | 'rejected';

/**
 * A response the gateway writes itself (sign-in redirects and its built-in pages), as opposed to
 * an error or a proxied response. Headers are a flat [name, value, ...] list so Set-Cookie repeats.
 */
export class LocalResponse {
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: string;
  readonly outcome: LocalOutcome;
  readonly code: GatehouseErrorCode | null;

  constructor(
    status: number,
    headers: readonly string[],
    body: string,
    outcome: LocalOutcome,
    code: GatehouseErrorCode | null = null,
  ) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.outcome = outcome;
    this.code = code;
  }
}

const NO_STORE = ['cache-control', 'no-store'];

/** The same response with more headers ([name, value, ...]). */
export function withHeaders(response: LocalResponse, headers: readonly string[]): LocalResponse {
  return new LocalResponse(
    response.status,
    [...response.headers, ...headers],
    response.body,
    response.outcome,
    response.code,
  );
}

/** A 302 to an absolute URL, with cookies; never cached. `code`: what failed on the way, for the line. */
export function redirectTo(
  location: string,
  cookies: readonly string[],
  outcome: LocalOutcome,
  status: 302 | 303 = 302,
  code: GatehouseErrorCode | null = null,
): LocalResponse {
  return new LocalResponse(
    status,
    ['location', location, ...NO_STORE, ...cookies.flatMap((c) => ['set-cookie', c])],
    '',
    outcome,
    code,
  );
}

/** An HTML page of the gateway, with cookies and a strict CSP (no script, no framing). */
export function htmlResponse(
  status: number,
  html: string,
  cookies: readonly string[],
  outcome: LocalOutcome,
  code: GatehouseErrorCode | null = null,
): LocalResponse {
  return new LocalResponse(
    status,
    [
      'content-type',
      'text/html; charset=utf-8',
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
      'x-frame-options',
      'DENY',
      'referrer-policy',
      'no-referrer',
      ...NO_STORE,
      ...cookies.flatMap((c) => ['set-cookie', c]),
    ],
    html,
    outcome,
    code,
  );
}

/**
 * The answer to a front-channel logout, which an identity provider loads in a hidden frame of its
 * own sign-out page: an empty page that may be framed (it shows nothing and takes no input, so
 * there is nothing to click through to), never cached (OpenID Connect Front-Channel Logout 1.0,
 * section 2), with the Set-Cookie values given.
 */
export function frameableEmptyPage(status: number, cookies: readonly string[]): LocalResponse {
  return new LocalResponse(
    status,
    [
      'content-type',
      'text/html; charset=utf-8',
      'content-security-policy',
      "default-src 'none'",
      'referrer-policy',
      'no-referrer',
      'cache-control',
      'no-cache, no-store',
      'pragma',
      'no-cache',
      ...cookies.flatMap((c) => ['set-cookie', c]),
    ],
    '',
    status < 400 ? 'gateway' : 'rejected',
    status < 400 ? null : 'bad_request',
  );
}

/** A JSON document of the gateway (e.g. the JWKS), cacheable for maxAge seconds. */
export function jsonResponse(status: number, json: string, maxAge: number): LocalResponse {
  return new LocalResponse(
    status,
    [
      'content-type',
      'application/json',
      'cache-control',
      maxAge > 0 ? `public, max-age=${maxAge}` : 'no-store',
    ],
    json,
    'gateway',
  );
}
