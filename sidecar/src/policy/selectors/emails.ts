import { callerAddress } from '../caller-address.ts';
import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a user whose email address is listed; compared on the parsed address, case-insensitively. */
export const emails = setSelector({
  kind: 'emails',
  pass: 'email_listed',
  fail: 'email_not_listed',
  keysFor: (input) => {
    const parsed = callerAddress(input);
    return parsed ? [parsed.address] : NO_KEYS;
  },
});
