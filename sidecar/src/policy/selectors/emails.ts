import type { FieldError } from '../../errors.ts';
import { parseEmail } from '../email-address.ts';
import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const NONE: readonly string[] = [];

/** The caller's parsed, lower-cased address; none when it is missing or ambiguous. */
function callerEmail(input: PolicyInput): readonly string[] {
  const email = input.identity?.email;
  if (!email) return NONE;
  const parsed = parseEmail(email);
  return parsed ? [parsed.address] : NONE;
}

/** Matches a user whose email address is listed; compared on the parsed address, case-insensitively. */
export const emails: SelectorDefinition<'emails'> = {
  kind: 'emails',
  reads: 'identity',
  pass: 'email_listed',
  fail: 'email_not_listed',
  check(value, at) {
    const errors: FieldError[] = [];
    value.forEach((address, i) => {
      if (!parseEmail(address))
        errors.push({
          path: `${at}[${i}]`,
          message: `is not a plain email address with exactly one @ (got ${JSON.stringify(address)})`,
        });
    });
    return errors;
  },
  normalise: (value) => [...new Set(value.map((a) => a.toLowerCase()))],
  compile(value) {
    const listed = new Set(value);
    return (input) => callerEmail(input).some((a) => listed.has(a));
  },
  index: { keysOf: (value) => value, requestKeys: () => callerEmail },
};
