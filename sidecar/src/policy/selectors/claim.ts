import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition, SelectorValue } from '../selector.ts';
import { NO_KEYS } from '../set-selector.ts';

type ClaimValue = SelectorValue<'claim'>;

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** The items `contains` looks for: elements of an array claim, words of a string claim. */
function itemsOf(claim: unknown): readonly unknown[] {
  if (Array.isArray(claim)) return claim;
  if (typeof claim === 'string') return claim.split(' ');
  return [];
}

const keyOf = (value: ClaimValue): string =>
  value.equals !== undefined ? `=${value.name}\0${value.equals}` : `~${value.name}\0${value.contains}`;

/**
 * Matches a claim of the user's token: `equals` compares a scalar claim's text exactly,
 * `contains` looks for an element of an array claim or a word of a space-separated string claim.
 */
export const claim: SelectorDefinition<'claim'> = {
  kind: 'claim',
  pass: 'claim_matched',
  fail: 'claim_not_matched',
  compile(value) {
    const { name, equals, contains } = value;
    return (input) => {
      const claims = input.identity?.claims;
      if (claims === undefined || !Object.hasOwn(claims, name)) return false;
      if (equals !== undefined) return scalarText(claims[name]) === equals;
      return itemsOf(claims[name]).includes(contains);
    };
  },
  index: {
    keysOf: (value) => [keyOf(value)],
    requestKeys(values) {
      // Only the claims some selector names are read from the identity.
      const equalsNames = [...new Set(values.filter((v) => v.equals !== undefined).map((v) => v.name))];
      const containsNames = [...new Set(values.filter((v) => v.contains !== undefined).map((v) => v.name))];
      return (input: PolicyInput) => {
        const claims = input.identity?.claims;
        if (claims === undefined) return NO_KEYS;
        const keys: string[] = [];
        for (const name of equalsNames) {
          const text = Object.hasOwn(claims, name) ? scalarText(claims[name]) : undefined;
          if (text !== undefined) keys.push(`=${name}\0${text}`);
        }
        for (const name of containsNames) {
          if (!Object.hasOwn(claims, name)) continue;
          for (const item of itemsOf(claims[name]))
            if (typeof item === 'string') keys.push(`~${name}\0${item}`);
        }
        return keys;
      };
    },
  },
};
