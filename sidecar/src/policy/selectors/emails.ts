import { listItemErrors } from '../../api/validate.ts';
import { callerAddress, parseEmail } from '../email-address.ts';
import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a user whose email address is listed; compared on the parsed address, case-insensitively. */
export const emails = setSelector({
  kind: 'emails',
  reads: 'identity',
  pass: 'email_listed',
  fail: 'email_not_listed',
  keysFor: (input) => {
    const parsed = callerAddress(input);
    return parsed ? [parsed.address] : NO_KEYS;
  },
  normaliseItem: (address) => address.toLowerCase(),
  check: (value, at) =>
    listItemErrors(value, at, (address) =>
      parseEmail(address) ? undefined : 'is not a plain email address with exactly one @',
    ),
});
