import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const requestMethod = (input: PolicyInput): readonly string[] => [input.method];

/** Matches when the request method is listed (methods are case-sensitive and upper-case). */
export const methods: SelectorDefinition<'methods'> = {
  kind: 'methods',
  reads: 'request',
  pass: 'method_listed',
  fail: 'method_not_listed',
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const listed = new Set(value);
    return (input) => listed.has(input.method);
  },
  index: { keysOf: (value) => value, requestKeys: () => requestMethod },
};
