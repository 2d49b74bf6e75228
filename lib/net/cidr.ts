import { BlockList, isIP } from 'node:net';
import { boundedCache } from '../bounded-cache.ts';

/** A parsed address range: family, network address and prefix length. */
export interface Cidr {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > max) return undefined;
  }
  return { family: version === 4 ? 'ipv4' : 'ipv6', address, prefix };
}

/** Why a text is not a CIDR range, or undefined when it is one (for configuration errors). */
export function cidrProblem(text: string): string | undefined {
  return parseCidr(text) ? undefined : 'is not an IP address or CIDR range';
}

/** An immutable set of address ranges answering "is this peer inside?" for IPv4 and IPv6 (and v4-mapped v6). */
export interface AddressSet {
  has(ip: string): boolean;
  readonly size: number;
}

const EMPTY: AddressSet = Object.freeze({ has: () => false, size: 0 });

/** Builds an AddressSet from already validated CIDR strings. */
export function createAddressSet(cidrs: readonly string[]): AddressSet {
  if (cidrs.length === 0) return EMPTY;
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (!cidr) throw new TypeError(`invalid CIDR ${JSON.stringify(text)}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  const cache = boundedCache<string, boolean>(10_000);
  return Object.freeze({
    size: cidrs.length,
    has(ip: string): boolean {
      const hit = cache.get(ip);
      if (hit !== undefined) return hit;
      const version = isIP(ip);
      let inside = false;
      if (version === 4) inside = list.check(ip, 'ipv4');
      else if (version === 6) {
        const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
        inside = mapped?.[1] ? list.check(mapped[1], 'ipv4') : list.check(ip, 'ipv6');
      }
      cache.set(ip, inside);
      return inside;
    },
  });
}
