/**
 * The client address `gatehouse explain --peer` finds from a connection's address and the
 * X-Forwarded-For it sends, as the sidecar's resolveClient stage finds it, and why: so that a
 * platform team checks spec.trustedProxies (an ingress left out makes every client look like it)
 * before applying it.
 */
import { createAddressSet } from '../../../lib/net/cidr.ts';
import { normaliseIp, resolveClientIp } from '../../../lib/net/client-ip.ts';

/** How the client address was found. */
export interface ClientAddress {
  readonly peer: string;
  readonly forwardedFor: readonly string[];
  /** Whether spec.trustedProxies lists the peer (its X-Forwarded-For is read). */
  readonly peerTrusted: boolean;
  /** The address the policies test and the log writes as clientIp. */
  readonly clientIp: string;
  /** Why, in a sentence. */
  readonly says: string;
}

/** The client address of a request from `peer` that sends `forwardedFor`, under these trusted proxies. */
export function clientAddressOf(
  peer: string,
  forwardedFor: readonly string[],
  trustedProxies: readonly string[],
): ClientAddress {
  const trusted = createAddressSet(trustedProxies);
  const address = normaliseIp(peer);
  const peerTrusted = trusted.size > 0 && trusted.has(peer);
  const clientIp = resolveClientIp(peer, peerTrusted, forwardedFor, trusted);
  const sent = forwardedFor.length > 0;
  const says = peerTrusted
    ? sent
      ? `the peer ${address} is in spec.trustedProxies, so its X-Forwarded-For is read from the right, past every trusted proxy, to the first address that is not one`
      : `the peer ${address} is in spec.trustedProxies but sends no X-Forwarded-For: the peer is the client`
    : sent
      ? `the peer ${address} is not in spec.trustedProxies, so its X-Forwarded-For is not read and the peer stands for the client (the sidecar writes forwarded_for_untrusted for it): list it there if it is your ingress or load balancer`
      : `the peer ${address} itself: it sends no X-Forwarded-For`;
  return { peer: address, forwardedFor, peerTrusted, clientIp, says };
}
