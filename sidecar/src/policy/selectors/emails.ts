import { listItemErrors } from '../../api/validate.ts';
import { parseEmail } from '../email-address.ts';
import type { PolicyInput } from '../input.ts';
import { NO_KEYS, setSelector } from '../set-selector.ts';

/** The caller's parsed, lower-cased address; none when it is missing or ambiguous. */
function callerEmail(input: PolicyInput): readonly string[] {
  const parsed = input.identity?.email ? parseEmail(input.identity.email) : undefined;
  return parsed ? [parsed.address] : NO_KEYS;
}

/** Matches a user whose email address is listed; compared on the parsed address, case-insensitively. */
export const emails = setSelector({
  kind: 'emails',
  reads: 'identity',
  pass: 'email_listed',
  fail: 'email_not_listed',
  keysFor: callerEmail,
  normaliseItem: (address) => address.toLowerCase(),
  check: (value, at) =>
    listItemErrors(value, at, (address) =>
      parseEmail(address) ? undefined : 'is not a plain email address with exactly one @',
    ),
});
