import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyErrors } from '../../contract/config/rendered-policy.ts';
import { SELECTORS } from '../../sidecar/src/policy/selectors/registry.ts';

describe('policy selectors', () => {
  it('has a table test of its own for every registered selector', () => {
    const dir = resolve(import.meta.dirname, 'selectors');
    const tabled = readdirSync(dir)
      .map((file) => /selectorTable\('([a-zA-Z]+)'/.exec(readFileSync(resolve(dir, file), 'utf8'))?.[1])
      .filter((kind): kind is string => kind !== undefined);
    expect(tabled.sort()).toEqual(Object.keys(SELECTORS).sort());
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
      'private endpoint numbers no PROXY header can carry',
      {
        decision: 'deny',
        include: [{ privateEndpoints: ['azure:4294967296', 'gcp:18446744073709551616', 'azure:4294967295'] }],
        require: [],
        exclude: [],
      },
      [
        'p.yaml#1 spec.include[0].privateEndpoints[0]: is over the largest LinkID (4294967295) (got "azure:4294967296")',
        'p.yaml#1 spec.include[0].privateEndpoints[1]: is over the largest connection id (18446744073709551615) (got "gcp:18446744073709551616")',
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
      'path globs with a space or characters outside ASCII: the percent-encoded form requests use',
      {
        decision: 'deny',
        include: [{ paths: ['/café/**', '/報告/*.pdf', '/my docs/**', '/a\u0085b'] }],
        require: [],
        exclude: [],
      },
      [
        'p.yaml#1 spec.include[0].paths[0]: has a space or characters outside ASCII, which requests send percent-encoded: write "/caf%C3%A9/**"',
        'p.yaml#1 spec.include[0].paths[1]: has a space or characters outside ASCII, which requests send percent-encoded: write "/%E5%A0%B1%E5%91%8A/*.pdf"',
        'p.yaml#1 spec.include[0].paths[2]: has a space or characters outside ASCII, which requests send percent-encoded: write "/my%20docs/**"',
        'p.yaml#1 spec.include[0].paths[3]: is not a valid path (control or non-ASCII character in path)',
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
      'signedInWithin outside 1m to 720h',
      {
        decision: 'allow',
        include: [{ groups: ['eng'] }],
        require: [{ signedInWithin: '30s' }, { signedInWithin: '721h' }, { signedInWithin: '1m' }],
        exclude: [],
      },
      [
        'p.yaml#1 spec.require[0].signedInWithin: is not a duration between 1m and 720h (got "30s")',
        'p.yaml#1 spec.require[1].signedInWithin: is not a duration between 1m and 720h (got "721h")',
      ],
    ],
    [
      'claim selectors naming claims of the token, which no session keeps',
      {
        decision: 'allow',
        include: [{ claim: { name: 'aud', equals: 'gatehouse' } }],
        require: [{ claim: { name: 'auth_time', equals: '0' } }],
        exclude: [{ claim: { name: 'nonce', contains: 'x' } }],
      },
      [
        'p.yaml#1 spec.include[0].claim.name: aud describes the ID token, not the user: a session keeps no such claim, so this selector would never match',
        'p.yaml#1 spec.require[0].claim.name: auth_time describes the ID token, not the user: a session keeps no such claim, so this selector would never match',
        'p.yaml#1 spec.exclude[0].claim.name: nonce describes the ID token, not the user: a session keeps no such claim, so this selector would never match',
      ],
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
