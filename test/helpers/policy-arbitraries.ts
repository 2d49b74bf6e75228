import fc from 'fast-check';
import type { Selector } from '../../contract/api/access-policy.ts';
import {
  normaliseSelector,
  policyErrors,
  type RenderedPolicy,
} from '../../contract/config/rendered-policy.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import type { PolicyIdentity, PolicyInput } from '../../sidecar/src/policy/input.ts';
import { user } from './policy-input.ts';

// Small value pools, so that generated selectors and requests actually meet.
const EMAILS = ['ann@x.com', 'bob@x.com', 'cy@y.com', 'Dee@Y.com'];
const DOMAINS = ['x.com', 'y.com', 'z.com'];
const GROUPS = ['g1', 'g2', 'g3'];
const IDPS = ['corp', 'github'];
const ACRS = ['phr', 'mfa', 'pwd'];
const RANGES = ['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16', '::1', '2001:db8::/32'];
const IPS = ['10.1.2.3', '10.9.9.9', '192.168.1.1', '203.0.113.5', '::1', '2001:db8::7'];
const GLOBS = ['/a/**', '/a/b', '/b/*', '/**', '/', '/c/*/d'];
const PATHS = ['/', '/a', '/a/b', '/a/b/c', '/b/x', '/b/', '/c/q/d', '/z'];
const METHODS = ['GET', 'POST', 'DELETE'];
const TOKENS = ['t1', 't2'];
const ENDPOINTS = ['aws:vpce-0a1', 'aws:vpce-0b2', 'azure:7', 'gcp:18446744073709551615'];

const some = <T>(pool: readonly T[]) =>
  fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: pool.length });

/** Any selector over the small pools. */
export const selectorArb: fc.Arbitrary<Selector> = fc.oneof(
  fc.constant<Selector>({ everyone: true }),
  fc.constant<Selector>({ authenticated: true }),
  some(EMAILS).map((v): Selector => ({ emails: v })),
  some(DOMAINS).map((v): Selector => ({ emailDomains: v })),
  some(GROUPS).map((v): Selector => ({ groups: v })),
  fc.constantFrom<Selector>(
    { claim: { name: 'dept', equals: 'eng' } },
    { claim: { name: 'roles', contains: 'admin' } },
  ),
  fc.constantFrom<Selector>({ signedInWithin: '5m' }, { signedInWithin: '2h' }),
  some(ACRS).map((v): Selector => ({ acrValues: v })),
  some(IDPS).map((v): Selector => ({ identityProviders: v })),
  some(RANGES).map((v): Selector => ({ ipRanges: v })),
  some(ENDPOINTS).map((v): Selector => ({ privateEndpoints: v })),
  some(TOKENS).map((v): Selector => ({ serviceTokens: v })),
  fc.constant<Selector>({ anyServiceToken: true }),
  fc.constantFrom<Selector>(
    { serviceAccounts: [{ namespace: 'ci', name: '*' }] },
    { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] },
  ),
  some(GLOBS).map((v): Selector => ({ paths: v })),
  some(METHODS).map((v): Selector => ({ methods: v })),
);

/** A valid rendered policy (invalid combinations, such as identity selectors in bypass, are filtered out). */
export const policyArb = (name: string): fc.Arbitrary<RenderedPolicy> =>
  fc
    .record({
      decision: fc.constantFrom('allow', 'deny', 'bypass', 'service-auth' as const),
      mode: fc.constantFrom('enforce', 'enforce', 'enforce', 'audit' as const),
      include: fc.array(selectorArb, { minLength: 1, maxLength: 3 }),
      require: fc.array(selectorArb, { maxLength: 2 }),
      exclude: fc.array(selectorArb, { maxLength: 2 }),
    })
    .map((p) => ({
      name,
      ...p,
      include: p.include.map(normaliseSelector),
      require: p.require.map(normaliseSelector),
      exclude: p.exclude.map(normaliseSelector),
    }))
    .filter((p) => policyErrors(p, (f) => f).length === 0);

/** An ordered list of uniquely named valid policies. */
export const policiesArb = (maxLength = 8): fc.Arbitrary<RenderedPolicy[]> =>
  fc
    .integer({ min: 0, max: maxLength })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => policyArb(`ns/p${i}`))));

const identityArb: fc.Arbitrary<PolicyIdentity | null> = fc.oneof(
  fc.constant(null),
  fc
    .record({
      email: fc.option(fc.constantFrom(...EMAILS, 'x@x.com@y.com'), { nil: null }),
      groups: fc.uniqueArray(fc.constantFrom(...GROUPS)),
      idp: fc.constantFrom(...IDPS),
      dept: fc.constantFrom('eng', 'ops'),
      roles: fc.uniqueArray(fc.constantFrom('admin', 'dev')),
      // The class of the sign-in, or none said.
      acr: fc.constantFrom(...ACRS, undefined),
      // When the user authenticated: a minute or an hour ago, or the provider never said.
      authenticatedAgo: fc.constantFrom(60, 3600, undefined),
    })
    .map(({ email, groups, idp, dept, roles, acr, authenticatedAgo }) =>
      user({
        email,
        groups,
        idp,
        claims: { dept, roles, ...(acr === undefined ? {} : { acr }) },
        ...(authenticatedAgo === undefined
          ? {}
          : { authTime: Math.floor(Date.now() / 1000) - authenticatedAgo }),
      }),
    ),
  fc.constantFrom(...TOKENS).map(serviceTokenIdentity),
  fc.constantFrom('build-1', 'deploy').map((name) => serviceAccountIdentity('ci', name)),
);

/** A request: anonymous, a user, a service token or a ServiceAccount, from a small pool of IPs, paths and methods. */
export const inputArb: fc.Arbitrary<PolicyInput> = fc.record({
  identity: identityArb,
  clientIp: fc.constantFrom(...IPS),
  privateEndpoint: fc.option(fc.constantFrom(...ENDPOINTS), { nil: null }),
  path: fc.constantFrom(...PATHS),
  method: fc.constantFrom(...METHODS),
});
