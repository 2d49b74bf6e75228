import { parseEmail } from '../email-address.ts';
import type { PolicyInput } from '../input.ts';
import { NO_KEYS, setSelector } from '../set-selector.ts';

/** The domain of the caller's parsed address; none when the address is missing or ambiguous. */
function callerDomain(input: PolicyInput): readonly string[] {
  const parsed = input.identity?.email ? parseEmail(input.identity.email) : undefined;
  return parsed ? [parsed.domain] : NO_KEYS;
}

/** Matches a user whose address is in a listed domain: exactly, case-insensitively, no subdomains. */
export const emailDomains = setSelector({
  kind: 'emailDomains',
  reads: 'identity',
  pass: 'email_domain_listed',
  fail: 'email_domain_not_listed',
  keysFor: callerDomain,
  normaliseItem: (domain) => domain.toLowerCase(),
});
