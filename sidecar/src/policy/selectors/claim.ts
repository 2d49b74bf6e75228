import type { SelectorDefinition, SelectorValue } from '../selector.ts';

type ClaimValue = SelectorValue<'claim'>;

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function holds(claim: unknown, wanted: string): boolean {
  if (Array.isArray(claim)) return claim.some((item) => item === wanted);
  if (typeof claim === 'string') return claim.split(' ').includes(wanted);
  return false;
}

/**
 * Matches a claim of the user's token: `equals` compares a scalar claim's text exactly,
 * `contains` looks for an element of an array claim or a word of a space-separated string claim.
 */
export const claim: SelectorDefinition<'claim'> = {
  kind: 'claim',
  reads: 'identity',
  pass: 'claim_matched',
  fail: 'claim_not_matched',
  check(value, at) {
    const v = value as ClaimValue;
    if ((v.equals === undefined) === (v.contains === undefined))
      return [{ path: at, message: 'needs exactly one of equals or contains' }];
    return [];
  },
  compile(value) {
    const { name, equals, contains } = value;
    if (equals !== undefined) {
      return (input) => {
        const claims = input.identity?.claims;
        return claims !== undefined && Object.hasOwn(claims, name) && scalarText(claims[name]) === equals;
      };
    }
    const wanted = contains ?? '';
    return (input) => {
      const claims = input.identity?.claims;
      return claims !== undefined && Object.hasOwn(claims, name) && holds(claims[name], wanted);
    };
  },
};
