import type { SelectorDefinition } from '../selector.ts';

/** Matches every caller. In an allow policy the caller must still sign in first. */
export const everyone: SelectorDefinition<'everyone'> = {
  kind: 'everyone',
  pass: 'everyone',
  fail: 'everyone',
  compile: () => () => true,
};
