import { parseEmail } from '../email-address.ts';
import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const NONE: readonly string[] = [];

/** The domain of the caller's parsed address; none when the address is missing or ambiguous. */
function callerDomain(input: PolicyInput): readonly string[] {
  const email = input.identity?.email;
  if (!email) return NONE;
  const parsed = parseEmail(email);
  return parsed ? [parsed.domain] : NONE;
}

/** Matches a user whose address is in a listed domain: exactly, case-insensitively, no subdomains. */
export const emailDomains: SelectorDefinition<'emailDomains'> = {
  kind: 'emailDomains',
  reads: 'identity',
  pass: 'email_domain_listed',
  fail: 'email_domain_not_listed',
  normalise: (value) => [...new Set(value.map((d) => d.toLowerCase()))],
  compile(value) {
    const listed = new Set(value);
    return (input) => callerDomain(input).some((d) => listed.has(d));
  },
  index: { keysOf: (value) => value, requestKeys: () => callerDomain },
};
