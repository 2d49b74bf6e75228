import { type HostMatcher, normaliseHost } from '../../../../lib/net/host.ts';
import { ROOT_PATHS } from '../../auth/gateway-paths.ts';
import { jsonResponse, type LocalResponse } from '../../http/local-response.ts';
import { isRootRouteTarget, rootRouteQuery } from '../../http/root-route-target.ts';
import type { RequestScope } from '../../request-scope.ts';

/**
 * The public keys of the identity JWT at the root's reserved prefix, for a Host that is not the
 * application's: the application in the same pod fetches them from the sidecar's port on the
 * loopback address (`http://127.0.0.1:4180/.gatehouse/jwks.json`), where it would otherwise get
 * 421 and need a way out of the cluster and back through the ingress to verify a JWT. The keys
 * are public; the application still checks the issuer (its externalUrl) and the audience.
 * Answered for GET and HEAD before anyone is authenticated, also for an application under a base
 * path (whose own host publishes them at `<base>/.gatehouse/jwks.json` only); logged as every
 * request is, with the Host as sent. The application's own hosts are left to the gateway routes,
 * as before.
 */
export const KEYS_PATH = ROOT_PATHS.jwks;

/**
 * The answer to GET or HEAD of KEYS_PATH (a query allowed) with a Host not the application's;
 * undefined for every other request.
 */
export function keysRoute(scope: RequestScope): LocalResponse | undefined {
  const req = scope.req;
  const url = req.url;
  if (!isKeysTarget(req.method, url) || scope.kind !== 'http') return undefined;
  const auth = scope.state.auth;
  if (auth === null) return undefined;
  const host = req.headers.host ?? '';
  if (!isOtherHost(host, scope.state.hosts)) return undefined;
  scope.host = host; // logged as sent
  scope.path = KEYS_PATH;
  scope.query = rootRouteQuery(url as string, KEYS_PATH);
  return jsonResponse(200, auth.jwks, 300);
}

/** Whether a method and request target are a fetch of the keys: GET or HEAD of KEYS_PATH. */
export function isKeysTarget(method: string | undefined, url: string | undefined): boolean {
  if (!isRootRouteTarget(url, KEYS_PATH)) return false;
  return method === 'GET' || method === 'HEAD';
}

/** Whether a Host header (none is ``) names no host of the application: malformed, or another. */
export function isOtherHost(host: string, hosts: HostMatcher): boolean {
  const normalised = normaliseHost(host);
  return normalised === undefined || !hosts(normalised);
}
