import { describe, expect, it } from 'vitest';
import type { RenderedPolicy } from '../../contract/config/rendered-policy.ts';
import { serviceTokenIdentity } from '../../sidecar/src/auth/machine-identity.ts';
import { authTimeOf, keptFromSignIn } from '../../sidecar/src/auth/session.ts';
import { compilePolicyEngine } from '../../sidecar/src/policy/engine.ts';
import { freshSignInDecision } from '../../sidecar/src/policy/fresh-sign-in.ts';
import type { PolicyInput } from '../../sidecar/src/policy/input.ts';
import { renderedPolicy, request, user } from '../helpers/policy-input.ts';

const policy = renderedPolicy;

// The selector reads the clock, as the sidecar does.
const now = Math.floor(Date.now() / 1000);
const eng = (authTime?: number) => user({ groups: ['eng'], ...(authTime === undefined ? {} : { authTime }) });

/** Admin paths need an authentication within 10 minutes; engineers may use the rest. */
const ADMIN_RECENT = [
  policy('admin', {
    decision: 'allow',
    include: [{ paths: ['/admin/**'] }],
    require: [{ groups: ['eng'] }, { signedInWithin: '10m' }],
  }),
  policy('billing', {
    decision: 'allow',
    include: [{ paths: ['/billing/**'] }],
    require: [{ groups: ['eng'] }, { signedInWithin: '1h' }],
  }),
  policy('rest', {
    decision: 'allow',
    include: [{ groups: ['eng'] }],
    exclude: [{ paths: ['/admin/**', '/billing/**'] }],
  }),
];

/** The same, written as a deny unless recent. */
const DENY_UNLESS_RECENT = [
  policy('admin-recent-only', {
    decision: 'deny',
    include: [{ paths: ['/admin/**'] }],
    exclude: [{ signedInWithin: '15m' }],
  }),
  policy('engineers', { decision: 'allow', include: [{ groups: ['eng'] }] }),
];

describe('freshSignInDecision: when a more recent sign-in would let a denied request through', () => {
  const cases: [string, readonly RenderedPolicy[], PolicyInput, string | null][] = [
    [
      'an hour old, admin path: the admin policy would allow',
      ADMIN_RECENT,
      request({ identity: eng(now - 3600), path: '/admin/x' }),
      'admin',
    ],
    ['never said when, admin path', ADMIN_RECENT, request({ identity: eng(), path: '/admin/x' }), 'admin'],
    [
      'five minutes old: as recent as the shortest window',
      ADMIN_RECENT,
      request({ identity: eng(now - 300), path: '/admin/x' }),
      null,
    ],
    [
      'thirty minutes old, billing (1h): allowed as it is',
      ADMIN_RECENT,
      request({ identity: eng(now - 1800), path: '/billing/x' }),
      'allowed',
    ],
    [
      'two hours old, billing',
      ADMIN_RECENT,
      request({ identity: eng(now - 7200), path: '/billing/x' }),
      'billing',
    ],
    [
      'not an engineer: no sign-in helps',
      ADMIN_RECENT,
      request({ identity: user({ groups: ['sales'], authTime: now - 3600 }), path: '/admin/x' }),
      null,
    ],
    [
      'a machine caller',
      ADMIN_RECENT,
      request({ identity: serviceTokenIdentity('ci'), path: '/admin/x' }),
      null,
    ],
    ['anonymous (login_required handles it)', ADMIN_RECENT, request({ path: '/admin/x' }), null],
    [
      'deny unless recent: an hour old',
      DENY_UNLESS_RECENT,
      request({ identity: eng(now - 3600), path: '/admin/x' }),
      'engineers',
    ],
    [
      'deny unless recent: not an engineer',
      DENY_UNLESS_RECENT,
      request({ identity: user({ authTime: now - 3600 }), path: '/admin/x' }),
      null,
    ],
    [
      'no signedInWithin anywhere',
      [ADMIN_RECENT[2] as RenderedPolicy],
      request({ identity: eng(now - 3600), path: '/admin/x' }),
      null,
    ],
  ];
  it.each(cases)('%s', (_name, policies, input, expected) => {
    const engine = compilePolicyEngine(policies);
    const { decision } = engine.evaluate(input);
    // Asked only of denied requests, as the sidecar asks.
    const fresh = decision.action === 'deny' ? freshSignInDecision(engine, input, now) : null;
    if (expected === 'allowed') {
      expect(decision).toMatchObject({ action: 'allow', policy: 'billing' });
      return;
    }
    expect(fresh).toEqual(
      expected === null
        ? null
        : {
            decision: { action: 'deny', policy: expected, rule: null, reason: 'fresh_sign_in_required' },
            acrValues: [],
          },
    );
  });

  it("the application's shortest window is the max_age of a sign-in", () => {
    expect(compilePolicyEngine(ADMIN_RECENT).signInWindow).toBe(600);
    expect(compilePolicyEngine(DENY_UNLESS_RECENT).signInWindow).toBe(900);
    expect(compilePolicyEngine([ADMIN_RECENT[2] as RenderedPolicy]).signInWindow).toBeNull();
    // The policies a first sign-in asks for max_age for: those with a window.
    const recent = compilePolicyEngine(ADMIN_RECENT);
    expect(['admin', 'billing', 'rest', null].map((p) => recent.asksRecentSignIn(p))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(compilePolicyEngine(DENY_UNLESS_RECENT).asksRecentSignIn('admin-recent-only')).toBe(true);
    expect(compilePolicyEngine(ADMIN_RECENT, { caseInsensitive: true }).signInWindow).toBe(600);
    // An audit policy's window sends nobody to sign in: only its auditDecision shows it.
    const audited = [
      { ...(ADMIN_RECENT[0] as RenderedPolicy), mode: 'audit' as const },
      ADMIN_RECENT[2] as RenderedPolicy,
    ];
    const engine = compilePolicyEngine(audited);
    expect(engine.signInWindow).toBeNull();
    expect(engine.asksRecentSignIn('admin')).toBe(false);
    const input = request({ identity: eng(now - 3600), path: '/admin/x' });
    expect(engine.evaluate(input).audit).toMatchObject({ action: 'deny' });
    expect(freshSignInDecision(engine, input, now)).toBeNull();
  });
});

/** Admin paths take engineers whose sign-in was phishing-resistant (phrh, phr); a window on billing. */
const ADMIN_STEP_UP = [
  policy('admin', {
    decision: 'allow',
    include: [{ paths: ['/admin/**'] }],
    require: [{ groups: ['eng'] }, { acrValues: ['phrh', 'phr'] }],
  }),
  policy('keys', {
    decision: 'allow',
    include: [{ paths: ['/admin/keys/**'] }],
    require: [{ groups: ['eng'] }, { acrValues: ['hwk'] }, { signedInWithin: '10m' }],
  }),
  // billing and rest, as above.
  ...ADMIN_RECENT.slice(1),
];
const signedInWith = (acr: unknown, authTime = now - 3600) =>
  user({ groups: ['eng'], authTime, claims: { acr } });

describe('freshSignInDecision: when a stronger sign-in (acrValues) would let a denied request through', () => {
  const cases: [string, PolicyInput, { policy: string; acrValues: string[] } | null][] = [
    [
      'a password sign-in, admin path: asked for the classes that admin lists, in its order',
      request({ identity: signedInWith('pwd'), path: '/admin/x' }),
      { policy: 'admin', acrValues: ['phrh', 'phr'] },
    ],
    [
      'no acr at all',
      request({ identity: user({ groups: ['eng'], authTime: now - 60 }), path: '/admin/x' }),
      { policy: 'admin', acrValues: ['phrh', 'phr'] },
    ],
    [
      'an acr that is not a string',
      request({ identity: signedInWith(['phr']), path: '/admin/x' }),
      { policy: 'admin', acrValues: ['phrh', 'phr'] },
    ],
    [
      'the keys path: admin covers it too, so the classes of both are asked, admin\u2019s first',
      request({ identity: signedInWith('pwd'), path: '/admin/keys/1' }),
      { policy: 'admin', acrValues: ['phrh', 'phr', 'hwk'] },
    ],
    [
      'billing an hour and a half old: a more recent sign-in, of any class',
      request({ identity: signedInWith('pwd', now - 5400), path: '/billing/x' }),
      { policy: 'billing', acrValues: [] },
    ],
    [
      'not an engineer: no sign-in helps',
      request({ identity: user({ groups: ['sales'], claims: { acr: 'pwd' } }), path: '/admin/x' }),
      null,
    ],
    ['a machine caller', request({ identity: serviceTokenIdentity('ci'), path: '/admin/x' }), null],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    const engine = compilePolicyEngine(ADMIN_STEP_UP);
    const { decision } = engine.evaluate(input);
    expect(decision.action).toBe('deny');
    const fresh = freshSignInDecision(engine, input, now);
    expect(fresh).toEqual(
      expected === null
        ? null
        : {
            decision: {
              action: 'deny',
              policy: expected.policy,
              rule: null,
              reason: 'fresh_sign_in_required',
            },
            acrValues: expected.acrValues,
          },
    );
  });

  it('a sign-in of a listed class is let through as it is; the classes of the application, in the order first listed; audit policies ask for none', () => {
    const engine = compilePolicyEngine(ADMIN_STEP_UP);
    expect(
      engine.evaluate(request({ identity: signedInWith('phr'), path: '/admin/x' })).decision,
    ).toMatchObject({
      action: 'allow',
      policy: 'admin',
    });
    expect(engine.acrValues).toEqual(['phrh', 'phr', 'hwk']);
    // What a first sign-in asked for by a policy asks the provider for: that policy's classes.
    expect(['admin', 'keys', 'billing', null].map((p) => engine.acrValuesOf(p))).toEqual([
      ['phrh', 'phr'],
      ['hwk'],
      [],
      [],
    ]);
    expect(compilePolicyEngine(ADMIN_STEP_UP, { caseInsensitive: true }).acrValues).toEqual([
      'phrh',
      'phr',
      'hwk',
    ]);
    const audited = compilePolicyEngine([
      { ...(ADMIN_STEP_UP[0] as RenderedPolicy), mode: 'audit' as const },
      ADMIN_STEP_UP[3] as RenderedPolicy,
    ]);
    expect(audited.acrValues).toEqual([]);
    expect(audited.acrValuesOf('admin')).toEqual([]);
    expect(
      freshSignInDecision(audited, request({ identity: signedInWith('pwd'), path: '/admin/x' }), now),
    ).toBeNull();
  });
});

describe('authTimeOf: the ID token auth_time a session keeps', () => {
  const cases: [string, unknown, number | undefined][] = [
    ['a time', now - 60, now - 60],
    ['a minute ahead (clock skew)', now + 60, now + 60],
    ['further ahead', now + 61, undefined],
    ['a string', String(now), undefined],
    ['a fraction', now - 0.5, undefined],
    ['zero', 0, undefined],
    ['absent', undefined, undefined],
  ];
  it.each(cases)('%s', (_name, value, expected) => {
    expect(authTimeOf(value === undefined ? {} : { auth_time: value }, now)).toBe(expected);
  });
});

describe('keptFromSignIn: a refresh keeps how the user authenticated', () => {
  it.each([
    [
      'the refreshed token leaves amr out',
      { dept: 'eng' },
      { amr: ['mfa'], dept: 'x' },
      { dept: 'eng', amr: ['mfa'] },
    ],
    ['the refreshed token claims more than the sign-in proved', { amr: ['mfa'], acr: 'phr' }, {}, {}],
    [
      'restated differently',
      { amr: ['pwd'] },
      { amr: ['hwk', 'mfa'], acr: '2' },
      { amr: ['hwk', 'mfa'], acr: '2' },
    ],
  ])('%s', (_name, refreshed, signIn, expected) => {
    expect(keptFromSignIn(refreshed, signIn)).toEqual(expected);
  });
});
