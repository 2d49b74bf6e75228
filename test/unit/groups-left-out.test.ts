import { describe, expect, it } from 'vitest';
import { groupsOfInterest } from '../../sidecar/src/auth/graph-groups.ts';
import { groupsLeftOutOf, identityFromClaims } from '../../sidecar/src/auth/session.ts';
import { testConfig } from '../helpers/fixtures.ts';

const ENTRA_OVERAGE = {
  _claim_names: { groups: 'src1' },
  _claim_sources: {
    src1: { endpoint: 'https://graph.windows.net/tenant/users/oid/getMemberObjects' },
  },
};

describe('groups left out of an ID token', () => {
  it.each([
    ['the groups claim sent', { groups: ['a'] }, 'groups', false],
    ['an empty groups claim sent', { groups: [] }, 'groups', false],
    ['no groups claim and no word of one', {}, 'groups', false],
    ["Entra's overage: the claim named in _claim_names", ENTRA_OVERAGE, 'groups', true],
    ['the claim sent and named (the sent one counts)', { ...ENTRA_OVERAGE, groups: ['a'] }, 'groups', false],
    ['another claim named', { _claim_names: { roles: 'src1' } }, 'groups', false],
    ['the configured claim named', { _claim_names: { roles: 'src1' } }, 'roles', true],
    ['_claim_names not an object', { _claim_names: 'groups' }, 'groups', false],
    ['_claim_names a list', { _claim_names: ['groups'] }, 'groups', false],
    ['_claim_names null', { _claim_names: null }, 'groups', false],
    ['groups inherited, not named', { _claim_names: Object.create({ groups: 'src1' }) }, 'groups', false],
    ["Entra's hasgroups (implicit flow)", { hasgroups: true }, 'groups', true],
    ['hasgroups as text', { hasgroups: 'true' }, 'groups', false],
  ] as const)('%s', (_what, claims, groupsClaim, expected) => {
    expect(groupsLeftOutOf(claims as Record<string, unknown>, groupsClaim)).toBe(expected);
  });

  it('marks the identity, and keeps where the groups are out of the claims policies and the JWT see', () => {
    const identity = identityFromClaims(
      { sub: 'carol', ...ENTRA_OVERAGE, hasgroups: true, team: 'x' },
      'groups',
      false,
    );
    expect(identity).toMatchObject({ sub: 'carol', groups: [], groupsLeftOut: true, claims: { team: 'x' } });
    const kept = Object.keys((identity as { claims: object }).claims);
    expect(kept).toContain('team');
    for (const name of ['_claim_names', '_claim_sources', 'hasgroups']) expect(kept).not.toContain(name);
    expect(identityFromClaims({ sub: 'dave', groups: ['a'] }, 'groups', false)).not.toHaveProperty(
      'groupsLeftOut',
    );
  });
});

describe('the groups worth keeping of many (groupsOverage)', () => {
  it.each([
    ['named in an include', 'eng', true],
    ['named in a require', 'on-call', true],
    ['named in an exclude', 'contractors', true],
    ['passed by groupsFilter', 'team-payments', true],
    ['none of those', 'all-staff', false],
    ['a name that only looks like a pattern', 'team', false],
  ])('%s: %s', (_what, group, kept) => {
    const config = testConfig(
      {
        policies: [{ name: 'engineers' }],
        authentication: { identityHeaders: { groupsFilter: ['team-*'] } },
      },
      {
        engineers: {
          decision: 'allow',
          include: [{ groups: ['eng'] }],
          require: [{ groups: ['on-call'] }],
          exclude: [{ groups: ['contractors'] }],
        },
      },
    );
    expect(groupsOfInterest(config)(group)).toBe(kept);
  });
});
