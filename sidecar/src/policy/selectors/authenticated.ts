import type { SelectorDefinition } from '../selector.ts';

/** Matches any authenticated caller: a signed-in user, a service token or a ServiceAccount. */
export const authenticated: SelectorDefinition<'authenticated'> = {
  kind: 'authenticated',
  pass: 'authenticated',
  fail: 'not_authenticated',
  compile: () => (input) => input.identity !== null,
};
