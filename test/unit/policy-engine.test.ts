import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccessPolicySpec } from '../../contract/api/access-policy.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import { compilePolicyEngine } from '../../sidecar/src/policy/engine.ts';
import type { PolicyInput } from '../../sidecar/src/policy/input.ts';
import { inputArb, policiesArb } from '../helpers/policy-arbitraries.ts';
import { renderedPolicy, request, user } from '../helpers/policy-input.ts';
import { oracleDecision, policyOutcome, selectorOutcome } from '../helpers/policy-oracle.ts';

const policy = renderedPolicy;

const ann = user({ email: 'ann@example.com', groups: ['eng'] });
const bob = user({ email: 'bob@example.com', groups: ['sales'] });

describe('include, require, exclude', () => {
  const admins = (spec: Partial<AccessPolicySpec>) =>
    compilePolicyEngine([policy('p', { decision: 'allow', include: [{ everyone: true }], ...spec })]);
  const cases: [string, Partial<AccessPolicySpec>, PolicyInput, string][] = [
    [
      'include: any one matches',
      { include: [{ emails: ['x@y.com'] }, { groups: ['eng'] }] },
      request({ identity: ann }),
      'allow',
    ],
    [
      'include: none matches',
      { include: [{ emails: ['x@y.com'] }, { groups: ['ops'] }] },
      request({ identity: ann }),
      'deny',
    ],
    [
      'require: all match',
      { require: [{ groups: ['eng'] }, { ipRanges: ['203.0.113.0/24'] }] },
      request({ identity: ann }),
      'allow',
    ],
    [
      'require: one fails',
      { require: [{ groups: ['eng'] }, { ipRanges: ['10.0.0.0/8'] }] },
      request({ identity: ann }),
      'deny',
    ],
    ['exclude: none matches', { exclude: [{ groups: ['sales'] }] }, request({ identity: ann }), 'allow'],
    [
      'exclude: one matches',
      { exclude: [{ groups: ['sales'] }, { methods: ['GET'] }] },
      request({ identity: ann }),
      'deny',
    ],
    [
      'exclude beats include and require',
      {
        include: [{ emails: ['bob@example.com'] }],
        require: [{ groups: ['sales'] }],
        exclude: [{ emailDomains: ['example.com'] }],
      },
      request({ identity: bob }),
      'deny',
    ],
    [
      'empty require and exclude',
      { include: [{ emailDomains: ['example.com'] }] },
      request({ identity: bob }),
      'allow',
    ],
  ];
  it.each(cases)('%s', (_name, spec, input, action) => {
    expect(admins(spec).evaluate(input).decision.action).toBe(action);
  });
});

describe('decisions and precedence', () => {
  const engine = compilePolicyEngine([
    policy('ns/block-contractors', { decision: 'deny', include: [{ groups: ['contractors'] }] }),
    policy('ns/eng', {
      decision: 'allow',
      include: [{ groups: ['eng'] }],
      exclude: [{ paths: ['/admin/**'] }],
    }),
    policy('ns/health', { decision: 'bypass', include: [{ paths: ['/healthz'] }] }),
    policy('ns/ci', {
      decision: 'service-auth',
      include: [{ serviceTokens: ['ci'] }, { serviceAccounts: [{ namespace: 'ci', name: 'build-*' }] }],
    }),
    policy('ns/admins', { decision: 'allow', include: [{ groups: ['admins'] }] }),
  ]);
  const cases: [string, PolicyInput, object][] = [
    [
      'bypass needs no identity',
      request({ path: '/healthz' }),
      { action: 'bypass', policy: 'ns/health', rule: 'include[0].paths', reason: 'path_matched' },
    ],
    [
      'bypass is looked at before deny',
      request({ path: '/healthz', identity: user({ groups: ['contractors'] }) }),
      { action: 'bypass' },
    ],
    [
      'allow with the matching include named',
      request({ identity: ann }),
      { action: 'allow', policy: 'ns/eng', rule: 'include[0].groups', reason: 'group_listed' },
    ],
    [
      'first listed wins: deny before allow',
      request({ identity: user({ groups: ['contractors', 'eng'] }) }),
      { action: 'deny', policy: 'ns/block-contractors', rule: 'include[0].groups', reason: 'group_listed' },
    ],
    [
      'excluded from one policy, allowed by a later one',
      request({ path: '/admin/x', identity: user({ groups: ['eng', 'admins'] }) }),
      { action: 'allow', policy: 'ns/admins' },
    ],
    [
      'excluded and nothing later: deny by default',
      request({ path: '/admin/x', identity: ann }),
      { action: 'deny', policy: null, rule: null, reason: 'no_policy_matched' },
    ],
    [
      'anonymous: sign-in needed (an allow policy could match)',
      request(),
      { action: 'deny', policy: 'ns/block-contractors', reason: 'login_required' },
    ],
    [
      'service token accepted',
      request({ identity: serviceTokenIdentity('ci') }),
      {
        action: 'service-auth',
        policy: 'ns/ci',
        rule: 'include[0].serviceTokens',
        reason: 'service_token_listed',
      },
    ],
    [
      'ServiceAccount accepted',
      request({ identity: serviceAccountIdentity('ci', 'build-3') }),
      { action: 'service-auth', rule: 'include[1].serviceAccounts' },
    ],
    [
      'unknown token: never a login, deny',
      request({ identity: serviceTokenIdentity('other') }),
      { action: 'deny', reason: 'no_policy_matched' },
    ],
    [
      'machines never match allow',
      request({ identity: { ...serviceTokenIdentity('x'), groups: ['eng'] } }),
      { action: 'deny', reason: 'no_policy_matched' },
    ],
    [
      'users never match service-auth',
      request({ identity: user({ groups: [] }) }),
      { action: 'deny', reason: 'no_policy_matched' },
    ],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(engine.evaluate(input).decision).toMatchObject(expected);
  });

  it('denies everything when an application has no policies', () => {
    const empty = compilePolicyEngine([]);
    expect(empty.evaluate(request({ identity: ann })).decision).toEqual({
      action: 'deny',
      policy: null,
      rule: null,
      reason: 'no_policies',
    });
    expect(empty.offersLogin).toBe(false);
  });

  it('an anonymous request is denied outright when a deny policy matches on request facts before any allow', () => {
    const e = compilePolicyEngine([
      policy('block', { decision: 'deny', include: [{ ipRanges: ['203.0.113.0/24'] }] }),
      policy('all', { decision: 'allow', include: [{ everyone: true }] }),
    ]);
    expect(e.evaluate(request()).decision).toMatchObject({
      action: 'deny',
      policy: 'block',
      reason: 'ip_in_range',
    });
    expect(e.evaluate(request({ clientIp: '198.51.100.1' })).decision.reason).toBe('login_required');
  });

  it('an allow policy listed before a deny asks for sign-in rather than denying on request facts', () => {
    const e = compilePolicyEngine([
      policy('all', { decision: 'allow', include: [{ everyone: true }] }),
      policy('block-admin', { decision: 'deny', include: [{ paths: ['/admin/**'] }] }),
    ]);
    expect(e.evaluate(request({ path: '/admin' })).decision.reason).toBe('login_required');
    expect(e.evaluate(request({ path: '/admin', identity: ann })).decision.action).toBe('allow');
  });
});

describe('an application whose paths compare without regard to case (spec.upstream.caseInsensitivePaths)', () => {
  const policies = [
    policy('health', { decision: 'bypass', include: [{ paths: ['/Health'] }] }),
    policy('no-admin', { decision: 'deny', include: [{ paths: ['/admin/**'] }] }),
    policy('menu', { decision: 'bypass', include: [{ paths: ['/caf%C3%A9/**'] }] }),
    policy('eng', { decision: 'allow', include: [{ groups: ['eng'] }] }),
  ];
  const folding = compilePolicyEngine(policies, { caseInsensitive: true });
  const asSent = compilePolicyEngine(policies);
  it.each([
    ['/ADMIN/users', 'no-admin', 'eng'],
    ['/Admin', 'no-admin', 'eng'],
    ['/admin/users', 'no-admin', 'no-admin'],
    ['/health', 'health', 'eng'],
    ['/HEALTH', 'health', 'eng'],
    ['/Health', 'health', 'health'],
    ['/CAF%C3%A9/x', 'menu', 'eng'],
    ['/other', 'eng', 'eng'],
  ])('%s: decided by %s, and as sent by %s', (path, folded, sent) => {
    expect(folding.evaluate(request({ identity: ann, path })).decision.policy).toBe(folded);
    expect(asSent.evaluate(request({ identity: ann, path })).decision.policy).toBe(sent);
  });
  it('the audit decision folds the same', () => {
    const engine = compilePolicyEngine(
      [
        policy('new-block', { decision: 'deny', mode: 'audit', include: [{ paths: ['/export/**'] }] }),
        ...policies,
      ],
      { caseInsensitive: true },
    );
    expect(engine.evaluate(request({ identity: ann, path: '/EXPORT/all' })).audit).toMatchObject({
      action: 'deny',
      policy: 'new-block',
    });
  });
});

describe('audit mode', () => {
  const engine = compilePolicyEngine([
    policy('new-block', { decision: 'deny', mode: 'audit', include: [{ ipRanges: ['203.0.113.0/24'] }] }),
    policy('eng', { decision: 'allow', include: [{ groups: ['eng'] }] }),
  ]);
  it('is evaluated and reported, never enforced', () => {
    const { decision, audit } = engine.evaluate(request({ identity: ann }));
    expect(decision).toMatchObject({ action: 'allow', policy: 'eng' });
    expect(audit).toMatchObject({ action: 'deny', policy: 'new-block', reason: 'ip_in_range' });
  });
  it('reports the same decision when the audit policy would change nothing', () => {
    const { decision, audit } = engine.evaluate(request({ identity: ann, clientIp: '10.0.0.1' }));
    expect(audit).toEqual(decision);
  });
  it('has no audit decision without audit policies', () => {
    expect(
      compilePolicyEngine([policy('eng', { decision: 'allow', include: [{ groups: ['eng'] }] })]).evaluate(
        request(),
      ).audit,
    ).toBeNull();
  });
});

describe('properties (fast-check)', () => {
  const runs = { numRuns: 2000 };

  it('the compiled, indexed engine decides exactly as the reference semantics', () => {
    fc.assert(
      fc.property(policiesArb(), fc.array(inputArb, { minLength: 1, maxLength: 6 }), (policies, inputs) => {
        const engine = compilePolicyEngine(policies);
        for (const input of inputs) {
          const { decision, audit } = engine.evaluate(input);
          expect(decision).toEqual(oracleDecision(policies, input));
          const hasAudit = policies.some((p) => p.mode === 'audit');
          expect(audit).toEqual(hasAudit ? oracleDecision(policies, input, true) : null);
        }
      }),
      runs,
    );
  });

  it('exclude always wins: the deciding policy never has an exclude that matches the request', () => {
    fc.assert(
      fc.property(policiesArb(), inputArb, (policies, input) => {
        const { decision } = compilePolicyEngine(policies).evaluate(input);
        const decider = policies.find((p) => p.name === decision.policy);
        if (!decider || decision.reason === 'login_required') return;
        for (const s of decider.exclude) expect(selectorOutcome(s, input)).toBe('fail');
      }),
      runs,
    );
  });

  it('deny by default: with no enforced policy matching, the request is denied', () => {
    fc.assert(
      fc.property(policiesArb(), inputArb, (policies, input) => {
        const { decision } = compilePolicyEngine(policies).evaluate(input);
        const anyMatch = policies.some((p) => p.mode === 'enforce' && policyOutcome(p, input) !== 'fail');
        if (!anyMatch) expect(decision).toMatchObject({ action: 'deny', policy: null, rule: null });
        if (decision.action !== 'deny') {
          const decider = policies.find((p) => p.name === decision.policy);
          expect(decider?.mode).toBe('enforce');
          expect(decider && policyOutcome(decider, input)).toBe('pass');
        }
      }),
      runs,
    );
  });

  it('precedence: bypass and service-auth before allow and deny, then the first listed match wins', () => {
    fc.assert(
      fc.property(policiesArb(), inputArb, (policies, input) => {
        const { decision } = compilePolicyEngine(policies).evaluate(input);
        const machine = input.identity !== null && input.identity.kind !== 'user';
        const enforced = policies.filter((p) => p.mode === 'enforce');
        const eligibleEarly = enforced.filter(
          (p) => p.decision === 'bypass' || (p.decision === 'service-auth' && machine),
        );
        const firstEarly = eligibleEarly.find((p) => policyOutcome(p, input) === 'pass');
        if (firstEarly) {
          expect(decision.policy).toBe(firstEarly.name);
          return;
        }
        const at = enforced.findIndex((p) => p.name === decision.policy);
        if (at === -1) return;
        for (const earlier of enforced.slice(0, at)) {
          if (earlier.decision === 'bypass' || earlier.decision === 'service-auth') continue;
          if (earlier.decision === 'allow' && machine) continue;
          expect(policyOutcome(earlier, input)).toBe('fail');
        }
      }),
      runs,
    );
  });

  it('audit policies never change the enforced decision', () => {
    fc.assert(
      fc.property(policiesArb(), inputArb, (policies, input) => {
        const withAudit = compilePolicyEngine(policies).evaluate(input).decision;
        const without = compilePolicyEngine(policies.filter((p) => p.mode === 'enforce')).evaluate(
          input,
        ).decision;
        expect(withAudit).toEqual(without);
      }),
      runs,
    );
  });
});
