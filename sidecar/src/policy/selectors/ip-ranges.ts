import { addressBits } from '../../../../lib/net/address-bits.ts';
import { createAddressSet, parseCidr } from '../../../../lib/net/cidr.ts';
import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';
import { NO_KEYS } from '../set-selector.ts';

/** `4/<first prefix bits>` or `6/<first prefix bits>`: one key per range, one per used prefix length per request. */
function rangeKey(text: string): string {
  const cidr = parseCidr(text);
  const bits = cidr && addressBits(cidr.address);
  if (!cidr || !bits) throw new TypeError(`invalid CIDR ${JSON.stringify(text)}`);
  // An IPv4-mapped IPv6 range (::ffff:0:0/96 and longer) is an IPv4 range.
  if (bits.family === 4 && cidr.family === 'ipv6')
    return `4/${bits.bits.slice(0, Math.max(0, cidr.prefix - 96))}`;
  return `${bits.family}/${bits.bits.slice(0, cidr.prefix)}`;
}

/**
 * Matches when the client IP is in a listed range (IPv4 or IPv6; IPv4-mapped IPv6 counts as
 * IPv4). The client IP is the one resolution the whole request uses and logs: X-Forwarded-For is
 * only read from trusted proxies, right to left.
 */
export const ipRanges: SelectorDefinition<'ipRanges'> = {
  kind: 'ipRanges',
  pass: 'ip_in_range',
  fail: 'ip_not_in_range',
  compile(value) {
    const ranges = createAddressSet(value);
    return (input) => input.clientIp !== '' && ranges.has(input.clientIp);
  },
  index: {
    keysOf: (value) => value.map(rangeKey),
    requestKeys(values) {
      // Only the prefix lengths some range uses are looked up.
      const lengths = { 4: new Set<number>(), 6: new Set<number>() };
      for (const key of values.flat().map(rangeKey)) lengths[key[0] === '4' ? 4 : 6].add(key.length - 2);
      const sorted = { 4: [...lengths[4]].sort((a, b) => a - b), 6: [...lengths[6]].sort((a, b) => a - b) };
      return (input: PolicyInput) => {
        const bits = input.clientIp === '' ? undefined : addressBits(input.clientIp);
        if (!bits) return NO_KEYS;
        return sorted[bits.family].map((n) => `${bits.family}/${bits.bits.slice(0, n)}`);
      };
    },
  },
};
