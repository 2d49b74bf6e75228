import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const NONE: readonly string[] = [];
const callerToken = (input: PolicyInput): readonly string[] => {
  const id = input.identity?.kind === 'service-token' ? input.identity.serviceTokenId : null;
  return id ? [id] : NONE;
};

/** Matches a machine caller authenticated with one of the listed service tokens (by token id). */
export const serviceTokens: SelectorDefinition<'serviceTokens'> = {
  kind: 'serviceTokens',
  reads: 'identity',
  pass: 'service_token_listed',
  fail: 'service_token_not_listed',
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const listed = new Set(value);
    return (input) => callerToken(input).some((t) => listed.has(t));
  },
  index: { keysOf: (value) => value, requestKeys: () => callerToken },
};
