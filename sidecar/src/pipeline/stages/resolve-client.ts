import { resolveClientIp } from '../../net/client-ip.ts';
import type { RequestScope } from '../scope.ts';

/** Decides whether the peer is a trusted proxy and finds the real client address. */
export function resolveClient(scope: RequestScope): undefined {
  const { state, req } = scope;
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
