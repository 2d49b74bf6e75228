import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RenderedPolicy } from '../../contract/config/rendered-policy.ts';
import { createMemorySink } from '../../lib/log/log-sink.ts';
import type { LiveEnd } from '../../sidecar/src/pipeline/live-deadline.ts';
import { endedMeanwhile } from '../../sidecar/src/pipeline/live-deadline.ts';
import { createOpenResponses } from '../../sidecar/src/pipeline/open-responses.ts';
import { createUpgradeRegistry } from '../../sidecar/src/pipeline/stages/proxy-upgrade.ts';
import { compilePolicyEngine, type PolicyEngine } from '../../sidecar/src/policy/engine.ts';
import { nextWindowEnd } from '../../sidecar/src/policy/selectors/signed-in-within.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';
import type { RuntimeState } from '../../sidecar/src/runtime-state.ts';
import { renderedPolicy, request, user } from '../helpers/policy-input.ts';

// A request is judged when it arrives; what it opened (a WebSocket, a stream of events) is judged
// again each time the user's authentication ages past a `signedInWithin` window of the policies,
// and ended when they no longer admit it.

const T0 = 1_800_000_000_000;
const T0_S = T0 / 1000;

describe('nextWindowEnd: when an authentication next ages past a window', () => {
  const cases: [string, number | undefined, readonly number[], number, number | null][] = [
    ['never said when', undefined, [600], T0, null],
    ['no windows', T0_S, [], T0, null],
    // Past the window plus openid-client's 30 s tolerance: the first whole second it fails.
    ['just signed in, 10 minutes', T0_S, [600], T0, (T0_S + 631) * 1000],
    ['five minutes old, 10 minutes and 1 hour', T0_S - 300, [600, 3600], T0, (T0_S + 331) * 1000],
    [
      '20 minutes old: the 10 minutes passed, the hour is next',
      T0_S - 1200,
      [600, 3600],
      T0,
      (T0_S + 2431) * 1000,
    ],
    ['two hours old: every window passed', T0_S - 7200, [600, 3600], T0, null],
    ['at the very moment it passes: the next one', T0_S - 631, [600, 3600], T0, (T0_S + 3000) * 1000],
  ];
  it.each(cases)('%s', (_name, authTime, windows, now, expected) => {
    expect(nextWindowEnd(authTime, windows, now)).toBe(expected);
  });
});

const ADMIN_RECENT: readonly RenderedPolicy[] = [
  renderedPolicy('admin', {
    decision: 'allow',
    include: [{ paths: ['/admin/**'] }],
    require: [{ groups: ['eng'] }, { signedInWithin: '10m' }],
  }),
  renderedPolicy('billing', {
    decision: 'allow',
    include: [{ paths: ['/billing/**'] }],
    require: [{ groups: ['eng'] }, { signedInWithin: '1h' }],
  }),
  renderedPolicy('audit-only', {
    decision: 'allow',
    mode: 'audit',
    include: [{ signedInWithin: '5m' }],
  }),
  renderedPolicy('rest', {
    decision: 'allow',
    include: [{ groups: ['eng'] }],
    exclude: [{ paths: ['/admin/**', '/billing/**'] }],
  }),
];

/** Windows in an exclude, twice. */
const DENY_UNLESS_RECENT = renderedPolicy('reports-recent-only', {
  decision: 'deny',
  include: [{ paths: ['/reports/**'] }],
  exclude: [{ signedInWithin: '15m' }, { signedInWithin: '15m' }],
});

describe('signInWindows: the ages at which the verdict may change', () => {
  it('every window of the enforced policies, in include, require and exclude, shortest first, each once; audit policies left out', () => {
    expect(compilePolicyEngine(ADMIN_RECENT).signInWindows).toEqual([600, 3600]);
    expect(compilePolicyEngine(ADMIN_RECENT, { caseInsensitive: true }).signInWindows).toEqual([600, 3600]);
    expect(compilePolicyEngine([DENY_UNLESS_RECENT, ...ADMIN_RECENT]).signInWindows).toEqual([
      600, 900, 3600,
    ]);
    expect(compilePolicyEngine([DENY_UNLESS_RECENT]).signInWindows).toEqual([900]);
    expect(compilePolicyEngine([ADMIN_RECENT[3] as RenderedPolicy]).signInWindows).toEqual([]);
    expect(compilePolicyEngine([]).signInWindows).toEqual([]);
  });
});

const sink = createMemorySink();
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  sink.lines.length = 0;
});
afterEach(() => vi.useRealTimers());

const stateOf = (engine: PolicyEngine, generation = '0000000000000001') =>
  ({
    appLabel: 'wiki',
    config: { generation },
    policy: engine,
    auth: null,
    revocations: { find: () => undefined },
  }) as unknown as RuntimeState;

/**
 * A request of an engineer who authenticated `age` seconds ago, admitted by `state` as the
 * authorize stage admits it (its sign-in age check set).
 */
function admitted(state: RuntimeState, requestId: string, path: string, age: number): RequestScope {
  const input = request({ identity: user({ groups: ['eng'], authTime: T0_S - age }), path });
  expect(state.policy.evaluate(input).decision.action).toBe('allow');
  return {
    requestId,
    state,
    sink,
    policyInput: input,
    identity: input.identity,
    sessionId: `s-${requestId}`,
    sessionIssuedAt: null,
    credentialEndsAt: null,
    signInAgeCheckAt: nextWindowEnd(T0_S - age, state.policy.signInWindows, Date.now()),
    errorCode: null,
    orderPrev: null,
    orderNext: null,
    inOrder: false,
  } as unknown as RequestScope;
}

const events = () => sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('responses in progress as the authentication ages', () => {
  it('an admin stream ends when the authentication passes 10 minutes, with the decision a request would get; the other paths go on', () => {
    const state = stateOf(compilePolicyEngine(ADMIN_RECENT));
    const ended: string[] = [];
    const responses = createOpenResponses(
      (scope: RequestScope, why: LiveEnd) => ended.push(`${scope.requestId}:${why.reason}`) > 0,
      () => state,
    );
    responses.add(admitted(state, 'admin', '/admin/live', 300));
    responses.add(admitted(state, 'billing', '/billing/live', 300));
    responses.add(admitted(state, 'docs', '/docs/live', 60));
    // 10 minutes and the tolerance after the sign-in, 5 minutes from now.
    vi.advanceTimersByTime(330_999);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['admin:fresh_sign_in_required']);
    expect(events()).toEqual([
      {
        time: expect.any(String),
        type: 'response_closed',
        app: 'wiki',
        requestId: 'admin',
        reason: 'fresh_sign_in_required',
        decision: { action: 'deny', policy: 'admin', rule: null, reason: 'fresh_sign_in_required' },
        sessionId: 's-admin',
        configGeneration: '0000000000000001',
      },
    ]);
    // The docs stream is looked at again when its authentication passes 10 minutes, and stands:
    // no window of the policies ends it. Billing ends at the hour.
    vi.advanceTimersByTime(2_999_999);
    expect(ended).toEqual(['admin:fresh_sign_in_required']);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['admin:fresh_sign_in_required', 'billing:fresh_sign_in_required']);
    expect(responses.size).toBe(1);
    // The docs stream's last window (the hour after its sign-in) passes; nothing is left to arm.
    vi.advanceTimersByTime(240_000);
    expect(ended).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('new policies with a window of their own reach a response already open: it ends at their window', () => {
    const before = stateOf(compilePolicyEngine([ADMIN_RECENT[3] as RenderedPolicy]));
    let current = before;
    const ended: string[] = [];
    const responses = createOpenResponses(
      (scope: RequestScope, why: LiveEnd) => ended.push(`${scope.requestId}:${why.reason}`) > 0,
      () => current,
    );
    const open = admitted(before, 'docs', '/docs/live', 60);
    // No window of `rest` can end it.
    expect(open.signInAgeCheckAt).toBeNull();
    responses.add(open);
    const stricter = stateOf(
      compilePolicyEngine([
        renderedPolicy('docs-recent', {
          decision: 'allow',
          include: [{ paths: ['/docs/**'] }],
          require: [{ signedInWithin: '2m' }],
        }),
      ]),
      '0000000000000002',
    );
    current = stricter;
    responses.recheck(stricter, () => undefined);
    expect(ended).toEqual([]);
    // Two minutes and the tolerance after the sign-in a minute ago.
    vi.advanceTimersByTime(90_999);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['docs:fresh_sign_in_required']);
    expect(events().at(-1)).toMatchObject({
      reason: 'fresh_sign_in_required',
      decision: { policy: 'docs-recent', reason: 'fresh_sign_in_required' },
      configGeneration: '0000000000000002',
    });
  });

  it('a request whose stages waited past its window is not sent: ended before it goes', () => {
    const state = stateOf(compilePolicyEngine(ADMIN_RECENT));
    const scope = admitted(state, 'admin', '/admin/x', 599);
    expect(endedMeanwhile(state, scope)).toBeNull();
    vi.setSystemTime(T0 + 32_000);
    expect(endedMeanwhile(state, scope)).toEqual({
      reason: 'fresh_sign_in_required',
      decision: { action: 'deny', policy: 'admin', rule: null, reason: 'fresh_sign_in_required' },
    });
  });
});

describe('tunnels as the authentication ages', () => {
  it('an admin WebSocket closes at its window with its event and error; a docs WebSocket stays; a tunnel gone disarms its timer', () => {
    const state = stateOf(compilePolicyEngine(ADMIN_RECENT));
    const tunnels = createUpgradeRegistry(undefined, undefined, () => state);
    const closed: string[] = [];
    const admin = admitted(state, 'admin', '/admin/terminal', 300);
    const docs = admitted(state, 'docs', '/docs/live', 300);
    const gone = admitted(state, 'gone', '/admin/other', 300);
    tunnels.add(admin, () => closed.push('admin'));
    tunnels.add(docs, () => closed.push('docs'));
    tunnels.add(gone, () => closed.push('gone'));
    tunnels.delete(gone);
    vi.advanceTimersByTime(330_999);
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closed).toEqual(['admin']);
    expect(admin.errorCode).toBe('fresh_sign_in_required');
    expect(events()).toEqual([
      expect.objectContaining({
        type: 'websocket_closed',
        requestId: 'admin',
        reason: 'fresh_sign_in_required',
        decision: { action: 'deny', policy: 'admin', rule: null, reason: 'fresh_sign_in_required' },
        sessionId: 's-admin',
      }),
    ]);
    vi.advanceTimersByTime(86_400_000);
    expect(closed).toEqual(['admin']);
    expect(docs.errorCode).toBeNull();
    // The docs tunnel was judged at the 10 minutes and the hour, and no window is left.
    expect(docs.signInAgeCheckAt).toBeNull();
  });

  it('a tunnel admitted without a window gets the one of new policies at the recheck', () => {
    let current = stateOf(compilePolicyEngine([ADMIN_RECENT[3] as RenderedPolicy]));
    const tunnels = createUpgradeRegistry(undefined, undefined, () => current);
    const closed: string[] = [];
    const docs = admitted(current, 'docs', '/docs/live', 30);
    tunnels.add(docs, () => closed.push('docs'));
    current = stateOf(
      compilePolicyEngine([
        renderedPolicy('docs-recent', {
          decision: 'allow',
          include: [{ paths: ['/docs/**'] }],
          require: [{ signedInWithin: '1m' }],
        }),
      ]),
      '0000000000000002',
    );
    tunnels.recheck(current, () => closed.push('recheck'));
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(60_999);
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closed).toEqual(['docs']);
    expect(events().at(-1)).toMatchObject({ type: 'websocket_closed', configGeneration: '0000000000000002' });
  });
});
