import { HttpError } from '../../../../contract/errors.ts';
import { resolveClientIp } from '../../../../lib/net/client-ip.ts';
import type { RequestScope } from '../../request-scope.ts';
import { isReadinessCheck } from './readiness-route.ts';

const NO_ADDRESS = new HttpError('bad_request', 400, 'Malformed request.', 'client address unknown');
const NO_PROXY_HEADER = new HttpError(
  'bad_request',
  400,
  'Malformed request.',
  'no PROXY protocol header from a load balancer of spec.proxyProtocol',
);

/**
 * Decides whether the peer is a trusted proxy and finds the real client address. A request whose
 * peer address is unknown is refused: address-based policies could not judge it (fail closed), as
 * is one from a load balancer that owed a PROXY header and sent none.
 */
export function resolveClient(scope: RequestScope): HttpError | undefined {
  const { state, req } = scope;
  if (scope.peerIp === '') return NO_ADDRESS;
  // A peer that must name its client in a PROXY header and did not: its own address would stand
  // for every client behind it. Its health check of the readiness route is answered all the same.
  if (scope.connection?.proxyHeaderMissing && !(scope.kind === 'http' && isReadinessCheck(scope.req))) {
    scope.errorCause = 'proxy_header_missing';
    return NO_PROXY_HEADER;
  }
  scope.peerTrusted = state.trustedProxies.size > 0 && state.trustedProxies.has(scope.peerIp);
  const forwardedFor: string[] = [];
  if (scope.peerTrusted) {
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).toLowerCase() === 'x-forwarded-for') forwardedFor.push(raw[i + 1] as string);
    }
  }
  scope.clientIp = resolveClientIp(scope.peerIp, scope.peerTrusted, forwardedFor, state.trustedProxies);
  return undefined;
}
