/**
 * Peers that sent X-Forwarded-For without being in spec.trustedProxies: an ingress controller or
 * a load balancer left out of the list, so that every request through it is judged and logged as
 * coming from it. The sidecar says so once for each such peer (the `forwarded_for_untrusted`
 * event), for at most MAX_TOLD_PEERS of them while the trusted proxies stay the same: clients
 * that send the header themselves, from as many addresses as they like, cannot fill the log.
 */

/** How many peers are told about, at most, for one list of trusted proxies. */
export const MAX_TOLD_PEERS = 16;

export interface UntrustedForwarders {
  /** True the first time a peer is seen (until MAX_TOLD_PEERS have been); false after. */
  firstFrom(peerIp: string): boolean;
}

export function createUntrustedForwarders(): UntrustedForwarders {
  const told = new Set<string>();
  return {
    firstFrom(peerIp) {
      if (told.size >= MAX_TOLD_PEERS || told.has(peerIp)) return false;
      told.add(peerIp);
      return true;
    },
  };
}
