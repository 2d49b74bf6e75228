import { type EmailAddress, parseEmail } from '../../../contract/policy/email-address.ts';
import type { PolicyInput } from './input.ts';

/** The caller's address, parsed; undefined when there is none or it is ambiguous. */
export function callerAddress(input: PolicyInput): EmailAddress | undefined {
  const email = input.identity?.email;
  return email ? parseEmail(email) : undefined;
}
