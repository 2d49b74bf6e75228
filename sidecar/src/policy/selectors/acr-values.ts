import { NO_KEYS, setSelector } from '../set-selector.ts';

/**
 * Matches a user whose sign-in the provider classed as one of the listed authentication context
 * classes (the ID token's `acr`, kept by the session; a refresh keeps the sign-in's). A machine
 * caller, and a user whose provider said none, or said it as anything but a string, never
 * matches.
 */
export const acrValues = setSelector({
  kind: 'acrValues',
  pass: 'acr_listed',
  fail: 'acr_not_listed',
  keysFor: (input) => {
    const acr = input.identity?.kind === 'user' ? input.identity.claims.acr : undefined;
    return typeof acr === 'string' ? [acr] : NO_KEYS;
  },
});
