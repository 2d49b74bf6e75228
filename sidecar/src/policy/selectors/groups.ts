import { NO_KEYS, setSelector } from '../set-selector.ts';

/** Matches a caller in at least one listed group; group names are compared exactly. */
export const groups = setSelector({
  kind: 'groups',
  pass: 'group_listed',
  fail: 'group_not_listed',
  keysFor: (input) => input.identity?.groups ?? NO_KEYS,
});
