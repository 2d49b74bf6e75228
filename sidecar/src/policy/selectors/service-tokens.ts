import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a machine caller authenticated with one of the listed service tokens (by token id). */
export const serviceTokens = setSelector({
  kind: 'serviceTokens',
  pass: 'service_token_listed',
  fail: 'service_token_not_listed',
  keysFor: (input) => {
    const id = input.identity?.kind === 'service-token' ? input.identity.serviceTokenId : null;
    return id ? [id] : NO_KEYS;
  },
});
