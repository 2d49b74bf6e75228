import { isIP } from 'node:net';
import type { AddressSet } from './cidr.ts';

/** Strips the IPv4-mapped prefix so `::ffff:10.0.0.1` logs and matches as `10.0.0.1`. */
export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * The address of one X-Forwarded-For hop without the port some proxies write after it (Azure
 * Application Gateway: `203.0.113.7:51234`, `[2001:db8::7]:443`); anything else as it is, for
 * the caller to refuse if it is not an address.
 */
export function forwardedAddress(hop: string): string {
  if (hop.startsWith('[')) {
    const close = hop.indexOf(']');
    if (close < 0) return hop;
    const after = hop.slice(close + 1);
    return after === '' || /^:[0-9]{1,5}$/.test(after) ? hop.slice(1, close) : hop;
  }
  const colon = hop.indexOf(':');
  if (colon > 0 && colon === hop.lastIndexOf(':') && /^:[0-9]{1,5}$/.test(hop.slice(colon)))
    return hop.slice(0, colon);
  return hop;
}

/**
 * The client's address: the peer itself, unless the peer is a trusted proxy, in which case
 * X-Forwarded-For is walked right to left past trusted proxies only (a hop's port, if written,
 * dropped). Spoofed entries to the left of the first untrusted hop are never believed.
 */
export function resolveClientIp(
  peerIp: string,
  peerTrusted: boolean,
  forwardedFor: readonly string[],
  trusted: AddressSet,
): string {
  const peer = normaliseIp(peerIp);
  if (!peerTrusted || forwardedFor.length === 0) return peer;
  const hops = forwardedFor.join(',').split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseIp(forwardedAddress((hops[i] as string).trim()));
    if (isIP(hop) === 0) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}

/** True for loopback host names and addresses (127.0.0.0/8, ::1, localhost), where plain http is acceptable. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
