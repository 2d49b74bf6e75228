import { HttpError } from '../../../../contract/errors.ts';
import { resolveClientIp } from '../../../../lib/net/client-ip.ts';
import type { RequestScope } from '../../request-scope.ts';

const NO_ADDRESS = new HttpError('bad_request', 400, 'Malformed request.', 'client address unknown');

/**
 * Decides whether the peer is a trusted proxy and finds the real client address. A request whose
 * peer address is unknown is refused: address-based policies could not judge it (fail closed).
 */
export function resolveClient(scope: RequestScope): HttpError | undefined {
  const { state, req } = scope;
  if (scope.peerIp === '') return NO_ADDRESS;
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
