import { describe, expect, it } from 'vitest';
import type { Selector, SelectorKind } from '../../sidecar/src/api/access-policy.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import type { PolicyInput } from '../../sidecar/src/policy/input.ts';
import { normaliseSelector, policyErrors } from '../../sidecar/src/policy/rendered-policy.ts';
import type { SelectorDefinition } from '../../sidecar/src/policy/selector.ts';
import { SELECTORS } from '../../sidecar/src/policy/selectors/registry.ts';
import { request, user } from '../helpers/policy-input.ts';

type Case = readonly [name: string, selector: Selector, input: PolicyInput, expected: boolean];

/** Runs a selector the way the engine does: normalised value, compiled matcher. */
function run(selector: Selector, input: PolicyInput): boolean {
  const normalised = normaliseSelector(selector);
  const kind = Object.keys(normalised)[0] as SelectorKind;
  const definition = SELECTORS[kind] as SelectorDefinition<SelectorKind>;
  return definition.compile(normalised[kind] as never)(input);
}

/** For indexed selectors, the index must agree with the matcher on every case. */
function indexAgrees(selector: Selector, input: PolicyInput): boolean {
  const normalised = normaliseSelector(selector);
  const kind = Object.keys(normalised)[0] as SelectorKind;
  const index = (SELECTORS[kind] as SelectorDefinition<SelectorKind>).index;
  if (!index) return true;
  const value = normalised[kind] as never;
  const keys = new Set(index.keysOf(value));
  return (
    index
      .requestKeys([value])(input)
      .some((k) => keys.has(k)) === run(selector, input)
  );
}

const anon = request();
const ann = request({ identity: user() });

const CASES: Record<SelectorKind, Case[]> = {
  everyone: [
    ['anonymous', { everyone: true }, anon, true],
    ['user', { everyone: true }, ann, true],
  ],
  authenticated: [
    ['anonymous', { authenticated: true }, anon, false],
    ['user', { authenticated: true }, ann, true],
    ['service token', { authenticated: true }, request({ identity: serviceTokenIdentity('ci') }), true],
  ],
  emails: [
    ['listed', { emails: ['ann@example.com'] }, ann, true],
    [
      'case-insensitive both ways',
      { emails: ['ANN@Example.COM'] },
      request({ identity: user({ email: 'Ann@EXAMPLE.com' }) }),
      true,
    ],
    ['not listed', { emails: ['bob@example.com'] }, ann, false],
    ['no email', { emails: ['ann@example.com'] }, request({ identity: user({ email: null }) }), false],
    ['anonymous', { emails: ['ann@example.com'] }, anon, false],
    [
      'two @ in the identity never matches',
      { emails: ['ann@example.com'] },
      request({ identity: user({ email: 'ann@example.com@evil.com' }) }),
      false,
    ],
    [
      'quoted local part never matches',
      { emails: ['"ann"@example.com'] },
      request({ identity: user({ email: '"ann"@example.com' }) }),
      false,
    ],
    [
      'trailing space is not trimmed',
      { emails: ['ann@example.com'] },
      request({ identity: user({ email: 'ann@example.com ' }) }),
      false,
    ],
    ['prefix is not a match', { emails: ['ann@example.co'] }, ann, false],
  ],
  emailDomains: [
    ['domain listed', { emailDomains: ['example.com'] }, ann, true],
    [
      'case-insensitive',
      { emailDomains: ['EXAMPLE.com'] },
      request({ identity: user({ email: 'ann@Example.COM' }) }),
      true,
    ],
    [
      'subdomain is not the domain',
      { emailDomains: ['example.com'] },
      request({ identity: user({ email: 'ann@sub.example.com' }) }),
      false,
    ],
    [
      'suffix trick',
      { emailDomains: ['example.com'] },
      request({ identity: user({ email: 'ann@evilexample.com' }) }),
      false,
    ],
    [
      'domain in the local part',
      { emailDomains: ['example.com'] },
      request({ identity: user({ email: 'example.com@evil.com' }) }),
      false,
    ],
    [
      'multi-@ rejected',
      { emailDomains: ['example.com'] },
      request({ identity: user({ email: 'a@evil.com@example.com' }) }),
      false,
    ],
    ['anonymous', { emailDomains: ['example.com'] }, anon, false],
  ],
  groups: [
    [
      'member',
      { groups: ['ops', 'admins'] },
      request({ identity: user({ groups: ['dev', 'admins'] }) }),
      true,
    ],
    ['case-sensitive', { groups: ['Admins'] }, request({ identity: user({ groups: ['admins'] }) }), false],
    ['no groups', { groups: ['admins'] }, ann, false],
    [
      'ServiceAccount groups',
      { groups: ['system:serviceaccounts:ci'] },
      request({ identity: serviceAccountIdentity('ci', 'runner') }),
      true,
    ],
  ],
  claim: [
    [
      'equals string',
      { claim: { name: 'dept', equals: 'eng' } },
      request({ identity: user({ claims: { dept: 'eng' } }) }),
      true,
    ],
    [
      'equals number as text',
      { claim: { name: 'level', equals: '3' } },
      request({ identity: user({ claims: { level: 3 } }) }),
      true,
    ],
    [
      'equals boolean as text',
      { claim: { name: 'mfa', equals: 'true' } },
      request({ identity: user({ claims: { mfa: true } }) }),
      true,
    ],
    [
      'equals is exact',
      { claim: { name: 'dept', equals: 'eng' } },
      request({ identity: user({ claims: { dept: 'engineering' } }) }),
      false,
    ],
    [
      'equals on an array fails',
      { claim: { name: 'dept', equals: 'eng' } },
      request({ identity: user({ claims: { dept: ['eng'] } }) }),
      false,
    ],
    [
      'contains in array',
      { claim: { name: 'roles', contains: 'admin' } },
      request({ identity: user({ claims: { roles: ['dev', 'admin'] } }) }),
      true,
    ],
    [
      'contains word of a string',
      { claim: { name: 'scope', contains: 'write' } },
      request({ identity: user({ claims: { scope: 'read write' } }) }),
      true,
    ],
    [
      'contains is not substring',
      { claim: { name: 'scope', contains: 'writ' } },
      request({ identity: user({ claims: { scope: 'read write' } }) }),
      false,
    ],
    ['missing claim', { claim: { name: 'dept', equals: 'eng' } }, ann, false],
    ['inherited property is not a claim', { claim: { name: 'constructor', contains: 'x' } }, ann, false],
  ],
  identityProviders: [
    ['listed', { identityProviders: ['corp'] }, ann, true],
    ['other provider', { identityProviders: ['github'] }, ann, false],
    [
      'machine has none',
      { identityProviders: ['corp'] },
      request({ identity: serviceTokenIdentity('ci') }),
      false,
    ],
  ],
  ipRanges: [
    ['IPv4 in range', { ipRanges: ['203.0.113.0/24'] }, anon, true],
    ['IPv4 outside', { ipRanges: ['198.51.100.0/24'] }, anon, false],
    ['single address', { ipRanges: ['203.0.113.7'] }, anon, true],
    ['IPv6 in range', { ipRanges: ['2001:db8::/32'] }, request({ clientIp: '2001:db8:1::5' }), true],
    ['IPv6 outside', { ipRanges: ['2001:db8::/32'] }, request({ clientIp: '2001:db9::5' }), false],
    [
      'IPv4-mapped IPv6 counts as IPv4',
      { ipRanges: ['203.0.113.0/24'] },
      request({ clientIp: '::ffff:203.0.113.7' }),
      true,
    ],
    ['no client IP', { ipRanges: ['0.0.0.0/0'] }, request({ clientIp: '' }), false],
  ],
  serviceTokens: [
    [
      'listed token',
      { serviceTokens: ['ci', 'backup'] },
      request({ identity: serviceTokenIdentity('ci') }),
      true,
    ],
    ['other token', { serviceTokens: ['backup'] }, request({ identity: serviceTokenIdentity('ci') }), false],
    ['a user is not a token', { serviceTokens: ['ci'] }, ann, false],
  ],
  anyServiceToken: [
    ['token', { anyServiceToken: true }, request({ identity: serviceTokenIdentity('ci') }), true],
    [
      'ServiceAccount is not a token',
      { anyServiceToken: true },
      request({ identity: serviceAccountIdentity('ci', 'a') }),
      false,
    ],
    ['anonymous', { anyServiceToken: true }, anon, false],
  ],
  serviceAccounts: [
    [
      'exact',
      { serviceAccounts: [{ namespace: 'ci', name: 'runner' }] },
      request({ identity: serviceAccountIdentity('ci', 'runner') }),
      true,
    ],
    [
      'other namespace',
      { serviceAccounts: [{ namespace: 'ci', name: 'runner' }] },
      request({ identity: serviceAccountIdentity('prod', 'runner') }),
      false,
    ],
    [
      'any name',
      { serviceAccounts: [{ namespace: 'ci', name: '*' }] },
      request({ identity: serviceAccountIdentity('ci', 'x') }),
      true,
    ],
    [
      'name prefix',
      { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] },
      request({ identity: serviceAccountIdentity('ci', 'build-7') }),
      true,
    ],
    [
      'name prefix miss',
      { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] },
      request({ identity: serviceAccountIdentity('ci', 'deploy') }),
      false,
    ],
    [
      'a token is not a ServiceAccount',
      { serviceAccounts: [{ namespace: 'ci', name: '*' }] },
      request({ identity: serviceTokenIdentity('ci') }),
      false,
    ],
  ],
  paths: [
    ['exact', { paths: ['/admin'] }, request({ path: '/admin' }), true],
    ['exact with trailing slash', { paths: ['/admin'] }, request({ path: '/admin/' }), true],
    ['exact does not cover children', { paths: ['/admin'] }, request({ path: '/admin/users' }), false],
    ['case-sensitive', { paths: ['/admin'] }, request({ path: '/ADMIN' }), false],
    ['prefix is not a match', { paths: ['/admin'] }, request({ path: '/administrator' }), false],
    ['/** covers the base', { paths: ['/admin/**'] }, request({ path: '/admin' }), true],
    ['/** covers descendants', { paths: ['/admin/**'] }, request({ path: '/admin/a/b/c' }), true],
    ['/** is segment-bound', { paths: ['/admin/**'] }, request({ path: '/administrator' }), false],
    ['* within a segment', { paths: ['/api/v*/users'] }, request({ path: '/api/v2/users' }), true],
    ['* does not cross /', { paths: ['/api/*/users'] }, request({ path: '/api/a/b/users' }), false],
    ['lone * needs a segment', { paths: ['/files/*'] }, request({ path: '/files/' }), false],
    ['/**/ in the middle', { paths: ['/a/**/z'] }, request({ path: '/a/b/c/z' }), true],
    ['/**/ matches zero segments', { paths: ['/a/**/z'] }, request({ path: '/a/z' }), true],
    ['regex characters are literal', { paths: ['/a.b'] }, request({ path: '/axb' }), false],
    ['/** matches everything', { paths: ['/**'] }, request({ path: '/x/y' }), true],
    ['root only', { paths: ['/'] }, request({ path: '/x' }), false],
  ],
  methods: [
    ['listed', { methods: ['GET', 'HEAD'] }, anon, true],
    ['not listed', { methods: ['POST'] }, anon, false],
    ['case-sensitive', { methods: ['GET'] }, request({ method: 'get' }), false],
  ],
};

describe('policy selectors', () => {
  for (const [kind, cases] of Object.entries(CASES)) {
    describe(kind, () => {
      it.each(cases)('%s', (_name, selector, input, expected) => {
        expect(run(selector, input)).toBe(expected);
        expect(indexAgrees(selector, input)).toBe(true);
      });
    });
  }

  it('has a table for every registered selector', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(SELECTORS).sort());
  });
});

describe('policy validation', () => {
  const at = (f: string) => `p.yaml#1 spec.${f}`;
  const cases: [string, Parameters<typeof policyErrors>[0], string[]][] = [
    [
      'email addresses with two @ or none',
      {
        decision: 'allow',
        include: [{ emails: ['a@b@c.com', 'plain', 'ok@x.com'] }],
        require: [],
        exclude: [],
      },
      [
        'p.yaml#1 spec.include[0].emails[0]: is not a plain email address with exactly one @ (got "a@b@c.com")',
        'p.yaml#1 spec.include[0].emails[1]: is not a plain email address with exactly one @ (got "plain")',
      ],
    ],
    [
      'CIDRs',
      { decision: 'deny', include: [{ ipRanges: ['10.0.0.0/33', 'x'] }], require: [], exclude: [] },
      [
        'p.yaml#1 spec.include[0].ipRanges[0]: is not an IP address or CIDR range (got "10.0.0.0/33")',
        'p.yaml#1 spec.include[0].ipRanges[1]: is not an IP address or CIDR range (got "x")',
      ],
    ],
    [
      'path globs that are not canonical',
      {
        decision: 'deny',
        include: [{ paths: ['/a//b', '/a/../b', '/a?x', '/a**', '/%2e/x', '/a/%41'] }],
        require: [],
        exclude: [],
      },
      [
        'p.yaml#1 spec.include[0].paths[0]: is not in canonical form',
        'p.yaml#1 spec.include[0].paths[1]: is not in canonical form',
        'p.yaml#1 spec.include[0].paths[2]: must not contain ? or #',
        'p.yaml#1 spec.include[0].paths[3]: ** must be a whole path segment',
        'p.yaml#1 spec.include[0].paths[4]: is not in canonical form',
        'p.yaml#1 spec.include[0].paths[5]: is not in canonical form',
      ],
    ],
    [
      'claim with both equals and contains',
      {
        decision: 'allow',
        include: [{ claim: { name: 'a', equals: 'x', contains: 'y' } }],
        require: [],
        exclude: [],
      },
      ['p.yaml#1 spec.include[0].claim: needs exactly one of equals or contains'],
    ],
    [
      'identity selectors in a bypass policy',
      { decision: 'bypass', include: [{ emails: ['a@b.com'] }], require: [{ groups: ['g'] }], exclude: [] },
      [
        'p.yaml#1 spec.include[0].emails: a bypass policy cannot test identity',
        'p.yaml#1 spec.require[0].groups: a bypass policy cannot test identity',
      ],
    ],
    [
      'machine selectors in an allow policy',
      {
        decision: 'allow',
        include: [{ serviceTokens: ['ci'] }],
        require: [],
        exclude: [{ anyServiceToken: true }],
      },
      ['p.yaml#1 spec.include[0].serviceTokens: never matches in an allow policy'],
    ],
    [
      'user selectors in a service-auth policy',
      {
        decision: 'service-auth',
        include: [{ anyServiceToken: true }],
        require: [{ emailDomains: ['x.com'] }],
        exclude: [],
      },
      ['p.yaml#1 spec.require[0].emailDomains: never matches in a service-auth policy'],
    ],
  ];
  it.each(cases)('%s', (_name, policy, expected) => {
    const errors = policyErrors(policy, at).map((e) => `${e.path}: ${e.message}`);
    expect(errors).toHaveLength(expected.length);
    expected.forEach((prefix, i) => {
      expect(errors[i]).toContain(prefix);
    });
  });

  it('accepts a valid policy with every selector kind', () => {
    const errors = policyErrors(
      {
        decision: 'deny',
        include: [
          { everyone: true },
          { authenticated: true },
          { emails: ['a@b.com'] },
          { emailDomains: ['b.com'] },
          { groups: ['g'] },
          { claim: { name: 'c', equals: 'v' } },
          { identityProviders: ['corp'] },
          { ipRanges: ['10.0.0.0/8', '::1'] },
          { serviceTokens: ['t'] },
          { anyServiceToken: true },
          { serviceAccounts: [{ namespace: 'n', name: 'a-*' }] },
          { paths: ['/a/**', '/b/*/c', '/'] },
          { methods: ['GET'] },
        ],
        require: [],
        exclude: [],
      },
      at,
    );
    expect(errors).toEqual([]);
  });
});
