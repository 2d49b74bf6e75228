import type { PolicyInput } from '../input.ts';
import type { SelectorDefinition } from '../selector.ts';

const NONE: readonly string[] = [];
const callerGroups = (input: PolicyInput): readonly string[] => input.identity?.groups ?? NONE;

/** Matches a caller in at least one listed group; group names are compared exactly. */
export const groups: SelectorDefinition<'groups'> = {
  kind: 'groups',
  reads: 'identity',
  pass: 'group_listed',
  fail: 'group_not_listed',
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const listed = new Set(value);
    return (input) => callerGroups(input).some((g) => listed.has(g));
  },
  index: { keysOf: (value) => value, requestKeys: () => callerGroups },
};
