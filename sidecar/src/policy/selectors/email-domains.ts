import { callerAddress } from '../caller-address.ts';
import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a user whose address is in a listed domain: exactly, case-insensitively, no subdomains. */
export const emailDomains = setSelector({
  kind: 'emailDomains',
  pass: 'email_domain_listed',
  fail: 'email_domain_not_listed',
  keysFor: (input) => {
    const parsed = callerAddress(input);
    return parsed ? [parsed.domain] : NO_KEYS;
  },
});
