import { compileWildcard } from '../../../contract/policy/path-glob.ts';

/** The groups of a caller the application is sent (policies still see every group). */
export type GroupsFilter = (groups: readonly string[]) => readonly string[];

/**
 * Compiles `identityHeaders.groupsFilter`: a group is kept when it equals one of the patterns or
 * matches one with `*`. Without patterns every group is kept. The result is remembered per groups
 * list (a session's list is the same object for all its requests), so a request pays a lookup.
 */
export function compileGroupsFilter(patterns: readonly string[] | undefined): GroupsFilter {
  if (patterns === undefined) return (groups) => groups;
  const names = new Set(patterns.filter((p) => !p.includes('*')));
  const wildcards = patterns.filter((p) => p.includes('*')).map(compileWildcard);
  const kept = new WeakMap<readonly string[], readonly string[]>();
  return (groups) => {
    let forwarded = kept.get(groups);
    if (forwarded === undefined) {
      forwarded = Object.freeze(groups.filter((g) => names.has(g) || wildcards.some((test) => test(g))));
      kept.set(groups, forwarded);
    }
    return forwarded;
  };
}
