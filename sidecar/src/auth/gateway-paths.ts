/**
 * Where the gateway's own routes and cookies live. An application reached at the root of its
 * host has them under `/.gatehouse/`; one served under a path of a shared host
 * (`externalUrl: https://tools.example.com/grafana`) has them under that path
 * (`/grafana/.gatehouse/`), where the host's router sends that application's requests, and its
 * session cookie is sent only with that path's requests.
 */
export interface GatewayPaths {
  /** The path externalUrl names (`/grafana`), or `` at the root. */
  readonly base: string;
  /** The reserved prefix (`<base>/.gatehouse/`): answered by the gateway, never the application. */
  readonly prefix: string;
  readonly login: string;
  readonly callback: string;
  readonly logout: string;
  readonly signedOut: string;
  readonly backchannelLogout: string;
  readonly frontchannelLogout: string;
  readonly jwks: string;
  /** The caller's identity as JSON (routes/userinfo.ts). */
  readonly userinfo: string;
  /** Where a return path that is not the application's leads: `<base>/`. */
  readonly home: string;
  /** The session cookie's Path: the base path, or `/`. */
  readonly sessionCookie: string;
  /** Whether a path is the application's: the base path or under it (every path at the root). */
  holds(path: string): boolean;
}

/**
 * The query parameter of a sign-out on every device (`<logout>?everywhere=1`, the sign-out page's
 * second button): every session of the account signed in until now ends, not only this browser's.
 */
export const EVERYWHERE_PARAM = 'everywhere';

/**
 * The login route's parameter that asks for a fresh sign-in, even when the browser has a session:
 * the provider is asked for an authentication within the application's shortest `signedInWithin`
 * (`max_age`), and the sign-in is refused unless its ID token says it happened then.
 */
export const FRESH_PARAM = 'fresh';

/**
 * With FRESH_PARAM, for a step-up: the classes of sign-in to ask the provider for (`acr_values`,
 * space-separated); only those the application's policies list are asked, and the sign-in is
 * refused unless its ID token's `acr` is one of them.
 */
export const ACR_PARAM = 'acr';

/** The login route's query for a new sign-in (FRESH_PARAM), asking for `acrValues` when any. */
export function freshSignInQuery(acrValues: readonly string[]): string {
  const acr = acrValues.length > 0 ? `&${ACR_PARAM}=${encodeURIComponent(acrValues.join(' '))}` : '';
  return `&${FRESH_PARAM}=1${acr}`;
}

/** The reserved prefix at the root, answered (404 at least) whatever the base path. */
export const ROOT_GATEWAY_PREFIX = '/.gatehouse/';

/** The paths of a base path (`` or `/a/b`, no trailing slash). */
export function gatewayPaths(base: string): GatewayPaths {
  const prefix = `${base}${ROOT_GATEWAY_PREFIX}`;
  return {
    base,
    prefix,
    login: `${prefix}login`,
    callback: `${prefix}callback`,
    logout: `${prefix}logout`,
    signedOut: `${prefix}signed-out`,
    backchannelLogout: `${prefix}backchannel-logout`,
    frontchannelLogout: `${prefix}frontchannel-logout`,
    jwks: `${prefix}jwks.json`,
    userinfo: `${prefix}userinfo`,
    home: `${base}/`,
    sessionCookie: base === '' ? '/' : base,
    holds: (path) =>
      base === '' ||
      path === base ||
      (path.startsWith(base) && path.charCodeAt(base.length) === 0x2f) /* / */,
  };
}

/** The paths of an application at the root of its host. */
export const ROOT_PATHS: GatewayPaths = gatewayPaths('');
