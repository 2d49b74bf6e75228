import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const NONE: readonly string[] = [];
const callerIdp = (input: PolicyInput): readonly string[] => {
  const idp = input.identity?.idp;
  return idp ? [idp] : NONE;
};

/** Matches a user who signed in with one of the listed identity providers (the login method). */
export const identityProviders: SelectorDefinition<'identityProviders'> = {
  kind: 'identityProviders',
  reads: 'identity',
  pass: 'idp_listed',
  fail: 'idp_not_listed',
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const listed = new Set(value);
    return (input) => callerIdp(input).some((p) => listed.has(p));
  },
  index: { keysOf: (value) => value, requestKeys: () => callerIdp },
};
