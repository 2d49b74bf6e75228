import type { FieldError } from '../../errors.ts';
import { createAddressSet, parseCidr } from '../../net/cidr.ts';
import type { SelectorDefinition } from '../selector.ts';

/**
 * Matches when the client IP is in a listed range (IPv4 or IPv6; IPv4-mapped IPv6 counts as
 * IPv4). The client IP is the one resolution the whole request uses and logs: X-Forwarded-For is
 * only read from trusted proxies, right to left.
 */
export const ipRanges: SelectorDefinition<'ipRanges'> = {
  kind: 'ipRanges',
  reads: 'request',
  pass: 'ip_in_range',
  fail: 'ip_not_in_range',
  check(value, at) {
    const errors: FieldError[] = [];
    value.forEach((text, i) => {
      if (!parseCidr(text))
        errors.push({
          path: `${at}[${i}]`,
          message: `is not an IP address or CIDR range (got ${JSON.stringify(text)})`,
        });
    });
    return errors;
  },
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const ranges = createAddressSet(value);
    return (input) => input.clientIp !== '' && ranges.has(input.clientIp);
  },
};
