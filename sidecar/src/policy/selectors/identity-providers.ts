import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a user who signed in with one of the listed identity providers (the login method). */
export const identityProviders = setSelector({
  kind: 'identityProviders',
  pass: 'idp_listed',
  fail: 'idp_not_listed',
  keysFor: (input) => (input.identity?.idp ? [input.identity.idp] : NO_KEYS),
});
