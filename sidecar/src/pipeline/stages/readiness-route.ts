import type { IncomingMessage } from 'node:http';
import { ROOT_GATEWAY_PREFIX } from '../../auth/gateway-paths.ts';
import { LocalResponse } from '../../http/local-response.ts';
import { isRootRouteTarget, rootRouteQuery } from '../../http/root-route-target.ts';
import type { RequestScope } from '../../request-scope.ts';

/**
 * The readiness route on the traffic port, for the health checks of load balancers that send
 * traffic straight to the pods (a GKE Ingress, an AWS ALB in IP mode, Azure Application Gateway):
 * they check the port they send to, with a Host of their own (the pod's address), and take
 * anything but 200 for a dead backend; the application's own pages answer them with a sign-in
 * redirect or a denial. Answered for GET, HEAD and OPTIONS before the Host is checked and before anyone is
 * authenticated, with what the admin port's /readyz says: 503 once the sidecar is stopping (the
 * shutdown delay), so load balancers stop sending before it stops accepting. Logged as every
 * request is; nothing of it reaches the application.
 */
export const READINESS_PATH = `${ROOT_GATEWAY_PREFIX}ready`;

const PLAIN_TEXT = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store'];
const READY = new LocalResponse(200, PLAIN_TEXT, 'ok\n', 'gateway');
const NOT_READY = new LocalResponse(503, PLAIN_TEXT, 'not ready\n', 'rejected', 'not_ready');

/**
 * Whether a method and request target are a readiness check: GET, HEAD or OPTIONS of
 * READINESS_PATH (HAProxy's `option httpchk <uri>` checks with OPTIONS by default, as HTTP/1.0
 * without a Host; Apache's mod_proxy_hcheck with `hcmethod=OPTIONS`).
 */
export function isReadinessTarget(method: string | undefined, url: string | undefined): boolean {
  if (!isRootRouteTarget(url, READINESS_PATH)) return false;
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Whether a request (not an upgrade) is a readiness check. */
export function isReadinessCheck(req: IncomingMessage): boolean {
  return isReadinessTarget(req.method, req.url);
}

/** The answer to a readiness check; undefined for every other request. */
export function readinessRoute(scope: RequestScope): LocalResponse | undefined {
  if (scope.kind !== 'http' || !isReadinessCheck(scope.req)) return undefined;
  scope.host = scope.req.headers.host ?? ''; // logged as sent: the check's Host is not the application's
  // Its query is logged as any other, redacted (a raw target in the line would carry a token).
  const url = scope.req.url as string;
  scope.path = READINESS_PATH;
  scope.query = rootRouteQuery(url, READINESS_PATH);
  return scope.ready() ? READY : NOT_READY;
}
