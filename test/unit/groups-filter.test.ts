import { describe, expect, it } from 'vitest';
import { compileGroupsFilter } from '../../sidecar/src/auth/groups-filter.ts';

// identityHeaders.groupsFilter: which of a caller's groups reach the application.

describe('compileGroupsFilter', () => {
  const groups = ['engineering', 'eng-platform', 'admins', 'team-a', 'team-b-leads', 'sales', '開発チーム'];
  it.each([
    ['no filter: every group', undefined, groups],
    ['names', ['admins', 'sales', 'unknown'], ['admins', 'sales']],
    ['a prefix pattern', ['eng*'], ['engineering', 'eng-platform']],
    ['a suffix and an inner pattern', ['*-leads', 'team-*-*'], ['team-b-leads']],
    ['a lone * keeps all', ['*'], groups],
    ['names outside ASCII', ['開発*'], ['開発チーム']],
    ['nothing matches', ['ops'], []],
  ])('%s', (_, patterns, expected) => {
    expect(compileGroupsFilter(patterns)(groups)).toEqual(expected);
  });

  it('works out a list once: the same list gives the same answer object', () => {
    const filter = compileGroupsFilter(['team-*']);
    const first = filter(groups);
    expect(filter(groups)).toBe(first);
    expect(filter([...groups])).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});
