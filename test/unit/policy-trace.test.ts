import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Selector } from '../../contract/api/access-policy.ts';
import {
  normaliseSelector,
  policyErrors,
  type RenderedPolicy,
} from '../../contract/config/rendered-policy.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import { compilePolicyEngine } from '../../sidecar/src/policy/engine.ts';
import type { PolicyIdentity, PolicyInput } from '../../sidecar/src/policy/input.ts';
import { type PolicyTrace, tracePolicies } from '../../sidecar/src/policy/policy-trace.ts';

// `gatehouse explain` shows how every selector came out (policy-trace.ts walks them one by one);
// the engine decides with indexes and memos. The two must tell the same story: the policy the
// trace says decides is the one the engine names, for any policies and any request.

const SELECTORS = (
  [
    { everyone: true },
    { authenticated: true },
    { emails: ['ada@example.com'] },
    { emailDomains: ['example.com'] },
    { groups: ['eng'] },
    { groups: ['sre', 'ops'] },
    { claim: { name: 'dept', equals: 'finance' } },
    { claim: { name: 'scope', contains: 'admin' } },
    { identityProviders: ['corp'] },
    { ipRanges: ['10.0.0.0/8'] },
    { ipRanges: ['2001:db8::/32', '192.0.2.0/24'] },
    { serviceTokens: ['ci'] },
    { anyServiceToken: true },
    { serviceAccounts: [{ namespace: 'jobs', name: 'ci-*' }] },
    { paths: ['/admin/**'] },
    { paths: ['/api/*', '/health'] },
    { paths: ['/Reports/**'] },
    { methods: ['POST', 'DELETE'] },
  ] as Selector[]
).map(normaliseSelector);

const selector = fc.constantFrom(...SELECTORS);
const policy = (i: number) =>
  fc
    .record({
      decision: fc.constantFrom('allow', 'deny', 'bypass', 'service-auth' as const),
      mode: fc.constantFrom('enforce', 'enforce', 'audit' as const),
      include: fc.array(selector, { minLength: 1, maxLength: 3 }),
      require: fc.array(selector, { maxLength: 2 }),
      exclude: fc.array(selector, { maxLength: 2 }),
    })
    .map((p): RenderedPolicy => ({ name: `corp/p${i}`, ...p }));

/** Policies the sidecar would take (the rest are refused at load). */
const policies = fc
  .array(fc.nat(), { maxLength: 8 })
  .chain((ids) => fc.tuple(...ids.map((_, i) => policy(i))))
  .map((all) => all.filter((p) => policyErrors(p, (f) => f).length === 0));

const user = fc
  .record({
    email: fc.constantFrom('ada@example.com', 'bob@other.org', null),
    groups: fc.subarray(['eng', 'sre', 'ops', 'sales']),
    idp: fc.constantFrom('corp', 'guest'),
    claims: fc.constantFrom({}, { dept: 'finance' }, { scope: 'read admin' }, { dept: 7 }),
  })
  .map(
    (u): PolicyIdentity => ({
      kind: 'user',
      sub: 'u-1',
      ...u,
      serviceTokenId: null,
      serviceAccount: null,
    }),
  );
const identity = fc.oneof(
  fc.constant(null),
  user,
  fc.constantFrom('ci', 'deploy').map(serviceTokenIdentity),
  fc.constantFrom('ci-nightly', 'web').map((name) => serviceAccountIdentity('jobs', name)),
);
const input = fc.record({
  identity,
  clientIp: fc.constantFrom('10.1.2.3', '192.0.2.9', '2001:db8::1', '203.0.113.5'),
  path: fc.constantFrom(
    '/',
    '/admin/users',
    '/api/x',
    '/health',
    '/admin',
    '/ADMIN/users',
    '/API/x',
    '/reports/q1',
  ),
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
}) as fc.Arbitrary<PolicyInput>;

/**
 * The deciding policy as the trace tells it: the first of the early policies (bypass,
 * service-auth) that matches, else the first allow or deny that matches or cannot be known
 * yet; audit policies decide only `audit`.
 */
function decidedBy(trace: readonly PolicyTrace[], enforced: boolean): string | null {
  const counts = (p: PolicyTrace) => p.applies && (!enforced || p.mode === 'enforce');
  for (const p of trace)
    if (counts(p) && (p.decision === 'bypass' || p.decision === 'service-auth') && p.match === 'pass')
      return p.name;
  for (const p of trace)
    if (counts(p) && (p.decision === 'allow' || p.decision === 'deny') && p.match !== 'fail') return p.name;
  return null;
}

describe('the trace of gatehouse explain against the engine', () => {
  it('names the policy the engine decides by, enforced and with audit policies, for any policies and request', () => {
    fc.assert(
      fc.property(policies, input, fc.boolean(), (ps, request, caseInsensitive) => {
        const { decision, audit } = compilePolicyEngine(ps, { caseInsensitive }).evaluate(request);
        const trace = tracePolicies(ps, request, { caseInsensitive });
        expect(decidedBy(trace, true)).toBe(decision.policy);
        if (audit !== null) expect(decidedBy(trace, false)).toBe(audit.policy);
        expect(trace.map((t) => t.name).sort()).toEqual(ps.map((p) => p.name).sort());
      }),
      { numRuns: 2_000, seed: 20261206 },
    );
  });

  it('with case-insensitive paths, a path decides as the same path in any case, and as lower-case globs decide it', () => {
    const cased = (path: string, flips: readonly boolean[]) =>
      [...path].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
    fc.assert(
      fc.property(
        policies,
        input,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        (ps, request, flips) => {
          const folding = compilePolicyEngine(ps, { caseInsensitive: true });
          const other = { ...request, path: cased(request.path, flips) };
          expect(folding.evaluate(other)).toEqual(folding.evaluate(request));
          // The same as an application that sends lower-case paths only, with lower-case globs.
          const lower = { ...request, path: request.path.toLowerCase() };
          const foldedGlobs = compilePolicyEngine(
            ps.map((p) => {
              const fold = (list: typeof p.include) =>
                list.map((x) => (x.paths !== undefined ? { paths: x.paths.map((g) => g.toLowerCase()) } : x));
              return { ...p, include: fold(p.include), require: fold(p.require), exclude: fold(p.exclude) };
            }),
          );
          expect(folding.evaluate(request)).toEqual(foldedGlobs.evaluate(lower));
        },
      ),
      { numRuns: 1_000, seed: 20261207 },
    );
  });

  it.each([
    [
      'an identity selector before sign-in is unknown, not false',
      { include: [{ groups: ['eng'] }], require: [], exclude: [] },
      null,
      'unknown',
      [{ outcome: 'unknown', reason: 'identity_unknown' }],
    ],
    [
      'an exclude that passes: no match',
      { include: [{ everyone: true }], require: [], exclude: [{ paths: ['/admin/**'] }] },
      null,
      'fail',
      [
        { outcome: 'pass', reason: 'everyone' },
        { outcome: 'pass', reason: 'path_matched' },
      ],
    ],
    [
      'a require that fails',
      { include: [{ authenticated: true }], require: [{ emailDomains: ['example.com'] }], exclude: [] },
      { email: 'bob@other.org' },
      'fail',
      [
        { outcome: 'pass', reason: 'authenticated' },
        { outcome: 'fail', reason: 'email_domain_not_listed' },
      ],
    ],
  ] as const)('%s', (_what, rules, who, match, selectors) => {
    const p: RenderedPolicy = {
      name: 'corp/p',
      decision: 'allow',
      mode: 'enforce',
      ...(JSON.parse(JSON.stringify(rules)) as Pick<RenderedPolicy, 'include' | 'require' | 'exclude'>),
    };
    const identity: PolicyIdentity | null =
      who === null
        ? null
        : {
            kind: 'user',
            sub: 'u',
            email: who.email,
            groups: [],
            idp: 'corp',
            claims: {},
            serviceTokenId: null,
            serviceAccount: null,
          };
    const [trace] = tracePolicies([p], {
      identity,
      clientIp: '192.0.2.1',
      privateEndpoint: null,
      path: '/admin/x',
      method: 'GET',
    });
    expect(trace?.match).toBe(match);
    expect(trace?.selectors.map(({ outcome, reason }) => ({ outcome, reason }))).toEqual(selectors);
  });

  it('looks at bypass first, then allow and deny in listed order; policies that never apply to the caller last', () => {
    const ps: RenderedPolicy[] = [
      {
        name: 'a',
        decision: 'allow',
        mode: 'enforce',
        include: [{ everyone: true }],
        require: [],
        exclude: [],
      },
      {
        name: 's',
        decision: 'service-auth',
        mode: 'enforce',
        include: [{ anyServiceToken: true }],
        require: [],
        exclude: [],
      },
      {
        name: 'd',
        decision: 'deny',
        mode: 'enforce',
        include: [{ everyone: true }],
        require: [],
        exclude: [],
      },
      {
        name: 'b',
        decision: 'bypass',
        mode: 'enforce',
        include: [{ paths: ['/health'] }],
        require: [],
        exclude: [],
      },
    ];
    const order = (identity: PolicyIdentity | null) =>
      tracePolicies(ps, {
        identity,
        clientIp: '192.0.2.1',
        privateEndpoint: null,
        path: '/',
        method: 'GET',
      }).map((t) => `${t.name}${t.applies ? '' : '-'}`);
    expect(order(null)).toEqual(['b', 'a', 'd', 's-']);
    expect(order(serviceTokenIdentity('ci'))).toEqual(['s', 'b', 'd', 'a-']);
  });
});
