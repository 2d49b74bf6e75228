import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { appPortCondition } from '../../operator/src/controller/app-port-condition.ts';
import { appPortExposure, selectorMatches } from '../../operator/src/controller/app-port-exposure.ts';
import {
  type ProtectionContext,
  reconcileProtection,
} from '../../operator/src/controller/reconcile-protection.ts';

// Whether the NetworkPolicies of a namespace close an injected application's own port (8080,
// renamed app-http) to the cluster, as Kubernetes combines them.

const injected = (name: string, labels: Record<string, string> = { app: 'wiki' }): KubeObject => ({
  metadata: { name, namespace: 'corp', labels: { 'gatehouse.dev/application': 'wiki', ...labels } },
  spec: {
    initContainers: [
      {
        name: 'gatehouse',
        args: ['sidecar', '--upstream-address', '127.0.0.1:8080'],
        ports: [{ name: 'http', containerPort: 4180 }],
      },
    ],
    containers: [
      {
        name: 'wiki',
        ports: [
          { name: 'app-http', containerPort: 8080 },
          { name: 'metrics', containerPort: 9100 },
        ],
      },
    ],
  },
});
const policy = (name: string, spec: object): KubeObject => ({ metadata: { name, namespace: 'corp' }, spec });
const PODS = [injected('wiki-1')];

/** The documented policy: every port but 8080. */
const ALL_BUT_8080 = {
  podSelector: { matchLabels: { 'gatehouse.dev/application': 'wiki' } },
  policyTypes: ['Ingress'],
  ingress: [
    {
      ports: [
        { protocol: 'TCP', port: 1, endPort: 8079 },
        { protocol: 'TCP', port: 8081, endPort: 65535 },
      ],
    },
  ],
};
const DENY_ALL = { podSelector: {}, policyTypes: ['Ingress'] };
const fromIngress = (ports: object[]) => ({
  podSelector: { matchLabels: { app: 'wiki' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { name: 'ingress' } } }], ports }],
});

describe('the application\u2019s own port and the NetworkPolicies', () => {
  it.each([
    ['no policy', [], { kind: 'not_isolated', pod: 'wiki-1' }],
    ['the documented one (every port but 8080)', [policy('only-through', ALL_BUT_8080)], { kind: 'closed' }],
    ['a default deny', [policy('deny', DENY_ALL)], { kind: 'closed', policies: ['deny'] }],
    [
      'a default deny and a rule for the sidecar by its port name',
      [policy('deny', DENY_ALL), policy('web', fromIngress([{ port: 'http' }]))],
      { kind: 'closed', policies: ['deny', 'web'] },
    ],
    [
      'a default deny and a rule for the sidecar by number',
      [policy('deny', DENY_ALL), policy('web', fromIngress([{ port: 4180 }]))],
      { kind: 'closed' },
    ],
    [
      'a rule for the app\u2019s renamed port by name',
      [policy('deny', DENY_ALL), policy('web', fromIngress([{ port: 'app-http' }]))],
      { kind: 'admitted', policy: 'web', rule: 0, fromAnywhere: false },
    ],
    [
      'a rule for 8080 by number',
      [policy('web', fromIngress([{ protocol: 'TCP', port: 8080 }]))],
      { kind: 'admitted', policy: 'web' },
    ],
    [
      'a range that holds 8080',
      [policy('web', fromIngress([{ port: 8000, endPort: 8999 }]))],
      { kind: 'admitted', policy: 'web' },
    ],
    [
      'a rule with no ports (every port)',
      [policy('web', { podSelector: {}, ingress: [{}] })],
      {
        kind: 'admitted',
        fromAnywhere: true,
      },
    ],
    [
      'a rule with no ports from some peers',
      [policy('web', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
      { kind: 'admitted', fromAnywhere: false },
    ],
    [
      '8080 over UDP only',
      [policy('udp', fromIngress([{ protocol: 'UDP', port: 8080 }]))],
      { kind: 'closed' },
    ],
    ['the metrics port only', [policy('metrics', fromIngress([{ port: 'metrics' }]))], { kind: 'closed' }],
    [
      'a policy of egress only',
      [policy('egress', { podSelector: {}, policyTypes: ['Egress'], egress: [] })],
      { kind: 'not_isolated' },
    ],
    [
      'a policy for other pods',
      [policy('blog', { podSelector: { matchLabels: { app: 'blog' } }, policyTypes: ['Ingress'] })],
      { kind: 'not_isolated' },
    ],
    [
      'a selector by expression that picks the pods',
      [
        policy('deny', {
          podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['wiki', 'blog'] }] },
        }),
      ],
      { kind: 'closed', policies: ['deny'] },
    ],
  ] as const)('%s', (_what, policies, expected) => {
    expect(appPortExposure('wiki', PODS, policies)).toMatchObject({ port: 8080, ...expected });
  });

  it('one pod of the application open is enough; pods without the sidecar or of another application are not judged', () => {
    const canary = injected('wiki-canary', { app: 'wiki', track: 'canary' });
    const closesStable = policy('stable', {
      podSelector: { matchExpressions: [{ key: 'track', operator: 'DoesNotExist' }] },
      policyTypes: ['Ingress'],
    });
    expect(appPortExposure('wiki', [...PODS, canary], [closesStable])).toMatchObject({
      kind: 'not_isolated',
      pod: 'wiki-canary',
    });
    const plain: KubeObject = {
      metadata: { name: 'wiki-plain', namespace: 'corp', labels: { 'gatehouse.dev/application': 'wiki' } },
      spec: { containers: [{ name: 'wiki' }] },
    };
    expect(appPortExposure('wiki', [plain], [])).toEqual({ kind: 'no_pods' });
    expect(appPortExposure('blog', PODS, [])).toEqual({ kind: 'no_pods' });
    expect(appPortExposure('wiki', [plain, ...PODS], [closesStable])).toMatchObject({ kind: 'closed' });
  });

  it.each([
    [{}, {}, true],
    [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, { a: '2' }, false],
  ] as const)('the label selector %j picks %j: %s', (selector, labels, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('the condition says what is open and what to do', () => {
    expect(appPortCondition({ kind: 'no_pods' })).toMatchObject({
      status: 'Unknown',
      reason: 'NoInjectedPods',
    });
    expect(appPortCondition({ kind: 'closed', port: 8080, policies: ['deny', 'web'] })).toEqual({
      type: 'AppPortClosed',
      status: 'True',
      reason: 'NetworkPolicyCloses',
      message:
        'NetworkPolicies deny, web isolate the application\u2019s pods and admit none of their own port 8080: only the sidecar reaches the application, where the cluster\u2019s network plugin enforces NetworkPolicies',
    });
    const open = appPortCondition({ kind: 'not_isolated', port: 8080, pod: 'wiki-1' });
    expect(open).toMatchObject({ status: 'False', reason: 'NoNetworkPolicy' });
    expect(open.message).toMatch(
      /^no NetworkPolicy selects pod wiki-1 for ingress, so any pod of the cluster reaches the application’s own port 8080 at the pod’s address, past the sidecar, with any identity headers it likes: have the application verify the signed identity JWT/,
    );
    const admitted = appPortCondition({
      kind: 'admitted',
      port: 8080,
      pod: 'wiki-1',
      policy: 'web',
      rule: 1,
      fromAnywhere: false,
    });
    expect(admitted).toMatchObject({ status: 'False', reason: 'NetworkPolicyAdmits' });
    expect(admitted.message).toContain(
      'NetworkPolicy web admits the application\u2019s own port 8080 of pod wiki-1 (ingress[1], from the peers it lists)',
    );
  });
});

describe('writing the Protected and AppPortClosed conditions', () => {
  const application: KubeObject = {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name: 'wiki', namespace: 'corp', resourceVersion: '41' },
    status: {
      conditions: [
        {
          type: 'Protected',
          status: 'False',
          reason: 'PodsWithoutSidecar',
          message: 'm',
          lastTransitionTime: 't',
        },
      ],
    },
  };
  function context(pods: string[]) {
    const applied: unknown[] = [];
    const recorded: string[] = [];
    const ctx: ProtectionContext = {
      client: { apply: async (_type: unknown, object: unknown) => applied.push(object) } as never,
      applications: { get: () => application } as never,
      events: { record: (_o: unknown, _t: unknown, reason: string) => recorded.push(reason) } as never,
      isLeader: () => true,
      now: () => new Date(0),
      pods: { of: () => pods } as never,
      servicesPast: () => [],
      appPort: () => ({ kind: 'not_isolated', port: 8080, pod: 'wiki-1' }),
      written: () => undefined,
      recent: new Map(),
    };
    return { ctx, applied, recorded };
  }

  it('writes both conditions once, with one Event, while the cache still shows the object as it was before the write', async () => {
    const { ctx, applied, recorded } = context([]);
    expect(await reconcileProtection(ctx, 'corp/wiki')).toBe('ready');
    // A second pod change right after the write: the cache has not seen it yet.
    expect(await reconcileProtection(ctx, 'corp/wiki')).toBe('ready');
    expect(applied.length).toBe(1);
    expect(
      (applied[0] as { status: { conditions: { type: string }[] } }).status.conditions.map((c) => c.type),
    ).toEqual(['Protected', 'AppPortClosed']);
    // Protected flipped: its Event. AppPortClosed's first word: none.
    expect(recorded).toEqual(['SidecarsInjected']);
  });

  it('writes again once the wanted conditions change, even before the cache has caught up', async () => {
    const pods: string[] = [];
    const { ctx, applied, recorded } = context(pods);
    await reconcileProtection(ctx, 'corp/wiki');
    pods.push('corp/wiki-plain');
    await reconcileProtection(ctx, 'corp/wiki');
    expect(applied.length).toBe(2);
    expect(recorded).toEqual(['SidecarsInjected', 'PodsWithoutSidecar']);
  });
});
