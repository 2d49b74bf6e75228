import { HttpError } from '../../../../contract/errors.ts';
import { logEvent } from '../../../../contract/event-writer.ts';
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

/** `X-Forwarded-For`, as its length tells it apart before it is compared. */
const FORWARDED_FOR = 'x-forwarded-for';

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
  // Read from a trusted proxy; from any other peer only seen, to be told (forwardedByUntrusted).
  const forwardedFor: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === FORWARDED_FOR.length && name.toLowerCase() === FORWARDED_FOR)
      forwardedFor.push(raw[i + 1] as string);
  }
  scope.clientIp = resolveClientIp(scope.peerIp, scope.peerTrusted, forwardedFor, state.trustedProxies);
  if (!scope.peerTrusted && forwardedFor.length > 0) forwardedByUntrusted(scope);
  return undefined;
}

/**
 * A peer not in spec.trustedProxies sent X-Forwarded-For: counted, and told once per peer (an
 * ingress or a load balancer left out of the list makes every client look like itself).
 */
function forwardedByUntrusted(scope: RequestScope): void {
  const state = scope.state;
  scope.metrics?.forwardedForUntrusted(state.appLabel);
  const peer = scope.clientIp; // the peer, normalised: its X-Forwarded-For was not read
  if (!state.untrustedForwarders.firstFrom(peer)) return;
  logEvent(scope.sink, 'forwarded_for_untrusted', {
    app: state.appLabel,
    peerIp: peer,
    trustedProxies: state.config.trustedProxies.length,
    hint: `if ${peer} is your ingress controller, load balancer or another proxy of yours, list its addresses in spec.trustedProxies (a layer-4 balancer that sends the PROXY protocol in spec.proxyProtocol.from): until then each of its clients is judged and logged as ${peer}; if it is a client's own proxy, nothing is wrong`,
  });
}
