import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { APPLICATION_KEY, SIDECAR_ADMIN_PORT_NAME } from '../../contract/injection.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { MUTATING_WEBHOOK_CONFIGURATIONS } from '../../lib/kube/resource-types.ts';
import { OPERATOR_USAGE } from '../../operator/src/cli/operator-command.ts';
import {
  DEFAULT_INJECTION,
  parseInjectionSettings,
} from '../../operator/src/injection/injection-settings.ts';
import { caBundleApply } from '../../operator/src/injection/webhook-ca-bundle.ts';
import {
  OPERATOR_NAMESPACE_RULES,
  OPERATOR_RULES,
  WEBHOOK_CONFIGURATION_NAME,
} from '../../operator/src/rbac.ts';
import { type ControlPlane, startControlPlane } from '../helpers/control-plane.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { applyCrds } from '../helpers/operator-cluster.ts';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
};

const NAMESPACE = 'gatehouse-system';
/** Every optional feature switched on, and every knob turned. */
const EVERYTHING = [
  '--set',
  'metrics.serviceMonitor.enabled=true',
  '--set',
  'metrics.podMonitor.enabled=true',
  '--set',
  'metrics.prometheusRule.enabled=true',
  '--set',
  'metrics.dashboard.enabled=true',
  '--set',
  'metrics.serviceMonitor.labels.release=prometheus',
  '--set',
  'networkPolicy.enabled=true',
  '--set-json',
  'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]',
  '--set-json',
  'webhook.namespaceSelectorExpressions=[{"key":"gatehouse.dev/enabled","operator":"In","values":["yes"]}]',
  '--set',
  'webhook.failurePolicy=Ignore',
  '--set',
  'webhook.excludeNamespaces={kube-system,monitoring}',
  '--set',
  'image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  '--set-json',
  'sidecar.imagePullSecrets=[{"name":"corp-registry"}]',
  '--set-json',
  'sidecar.egressProxy={"httpsProxy":"http://proxy.corp:3128","noProxy":".corp.example,10.0.0.0/8"}',
  '--set',
  'operator.podDisruptionBudget.minAvailable=50%',
  '--set',
  'operator.priorityClassName=system-cluster-critical',
  '--set-json',
  'imagePullSecrets=[{"name":"registry"}]',
  '--set',
  'operator.hostNetwork=true',
  '--set',
  'operator.metricsPort=9443',
];

/** Minimal Prometheus Operator CRDs, so the optional monitoring objects can be dry-run too. */
const MONITORING_KINDS = [
  ['ServiceMonitor', 'servicemonitors'],
  ['PodMonitor', 'podmonitors'],
  ['PrometheusRule', 'prometheusrules'],
] as const;
const monitoringCrd = (kind: string, plural: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: { kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}, listKind: ${kind}List }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

let cluster: ControlPlane;

async function render(extra: string[] = []): Promise<Manifest[]> {
  const text = await helm(['template', 'gatehouse', CHART, '--namespace', NAMESPACE, ...extra]);
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

const find = (docs: Manifest[], kind: string): Manifest => {
  const doc = docs.find((d) => d.kind === kind);
  if (!doc) throw new Error(`no ${kind} rendered`);
  return doc;
};

beforeAll(async () => {
  cluster = await startControlPlane();
  await applyCrds(cluster);
  await cluster.kubectl(['create', 'namespace', NAMESPACE]);
  await cluster.kubectl(
    ['apply', '--server-side', '-f', '-'],
    MONITORING_KINDS.map(([kind, plural]) => monitoringCrd(kind, plural)).join('---\n'),
  );
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    ...MONITORING_KINDS.map(([, plural]) => `crd/${plural}.monitoring.coreos.com`),
  ]);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('charts/gatehouse', () => {
  it('passes helm lint --strict, with defaults and with everything on', async () => {
    await helm(['lint', '--strict', CHART]);
    await helm(['lint', '--strict', CHART, ...EVERYTHING]);
  });

  it.each([
    ['defaults', [] as string[]],
    ['everything on', EVERYTHING],
  ])('renders manifests the API server accepts (server-side dry-run): %s', async (_what, values) => {
    const docs = await render(values);
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'MutatingWebhookConfiguration',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ]),
    );
    const out = await cluster.kubectl(
      ['apply', '--server-side', '--dry-run=server', '--field-manager=helm', '-f', '-'],
      docs.map((d) => JSON.stringify(d)).join('\n'),
    );
    expect(out.trim().split('\n')).toHaveLength(docs.length);
    expect(out).toMatch(/serverside-applied \(server dry run\)/);
  });

  it('switches the optional objects on and off', async () => {
    const defaults = (await render()).map((d) => d.kind);
    expect(defaults).toContain('PodDisruptionBudget');
    expect(defaults).not.toContain('ServiceMonitor');
    expect(defaults).not.toContain('NetworkPolicy');
    const everything = (await render(EVERYTHING)).map((d) => d.kind);
    expect(everything).toEqual(
      expect.arrayContaining(['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'NetworkPolicy']),
    );
    expect(defaults).not.toContain('PodMonitor');
    expect(defaults).not.toContain('PrometheusRule');
    const noPdb = (await render(['--set', 'operator.podDisruptionBudget.enabled=false'])).map((d) => d.kind);
    expect(noPdb).not.toContain('PodDisruptionBudget');
  });

  it('scrapes the injected sidecars, carries the alerts and the dashboard as the files hold them', async () => {
    const docs = await render(EVERYTHING);
    const podMonitor = find(docs, 'PodMonitor') as Manifest & {
      spec: {
        selector: { matchExpressions: { key: string; operator: string }[] };
        namespaceSelector: { any?: boolean };
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };
    // The label every injected pod carries and the port name the injection gives the admin port.
    expect(podMonitor.spec.selector.matchExpressions).toEqual([{ key: APPLICATION_KEY, operator: 'Exists' }]);
    expect(podMonitor.spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: SIDECAR_ADMIN_PORT_NAME, path: '/metrics' }),
    ]);
    expect(podMonitor.spec.namespaceSelector).toEqual({ any: true });
    const rule = find(docs, 'PrometheusRule') as Manifest & { spec: unknown };
    expect(rule.spec).toEqual(parse(readFileSync(resolve(CHART, 'files/alerts.yaml'), 'utf8')));
    const dashboard = docs.find(
      (d) => d.kind === 'ConfigMap' && d.metadata?.name === 'gatehouse-dashboard',
    ) as (Manifest & { data: Record<string, string> }) | undefined;
    expect(dashboard?.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(dashboard?.data['gatehouse.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(resolve(CHART, 'files/dashboard.json'), 'utf8')),
    );
  });

  it('runs two operator replicas, restricted, with flags the operator knows', async () => {
    const deployment = find(await render(), 'Deployment') as Manifest & {
      spec: {
        replicas: number;
        template: {
          spec: {
            serviceAccountName: string;
            containers: { args: string[]; securityContext: Record<string, unknown> }[];
          };
        };
      };
    };
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('gatehouse-operator');
    const container = pod.containers[0];
    expect(container?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const [command, ...flags] = container?.args ?? [];
    expect(command).toBe('operator');
    for (const flag of flags) expect(OPERATOR_USAGE).toContain(`  ${flag.split('=')[0]} `);
  });

  it('renders injection settings the operator accepts', async () => {
    // The injection settings, not the dashboard's ConfigMap.
    const configMap = (await render(EVERYTHING)).find(
      (d) => d.kind === 'ConfigMap' && d.metadata.name === 'gatehouse-injection',
    ) as Manifest & { data: Record<string, string> };
    const settings = parseInjectionSettings(parse(configMap.data['injection.yaml'] ?? ''), 'injection.yaml');
    expect(settings).toMatchObject({
      image:
        'ghcr.io/gatehouse-dev/gatehouse@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      operatorUrl: `https://gatehouse-operator.${NAMESPACE}.svc`,
      listenPort: 4180,
      imagePullSecrets: ['corp-registry'],
      egressProxy: { httpsProxy: 'http://proxy.corp:3128', noProxy: '.corp.example,10.0.0.0/8' },
    });
    // The chart's default sidecar resources are the operator's own defaults (a request that
    // covers the sidecar at rest).
    expect(settings.resources).toEqual(DEFAULT_INJECTION.resources);
  });

  it.each([
    ['by default', [] as string[], 65532],
    [
      'on OpenShift (it serves security.openshift.io/v1): the platform chooses',
      ['--api-versions', 'security.openshift.io/v1'],
      null,
    ],
    ['set to null', ['--set', 'runAsUser=null'], null],
    ['set to a number', ['--set', 'runAsUser=1000700000'], 1000700000],
  ] as const)(
    'runs the operator and the sidecars as UID 65532 or as told: %s',
    async (_what, values, uid) => {
      const docs = await render([...values]);
      const operator = find(docs, 'Deployment') as Manifest & {
        spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } };
      };
      const context = operator.spec.template.spec.containers[0]?.securityContext ?? {};
      expect(context.runAsNonRoot).toBe(true);
      expect(context.runAsUser).toBe(uid ?? undefined);
      expect(context.runAsGroup).toBe(uid ?? undefined);
      const configMap = docs.find(
        (d) => d.kind === 'ConfigMap' && d.metadata.name === 'gatehouse-injection',
      ) as (Manifest & { data: Record<string, string> }) | undefined;
      const settings = parseInjectionSettings(
        parse(configMap?.data['injection.yaml'] ?? ''),
        'injection.yaml',
      );
      expect(settings.runAsUser).toBe(uid);
    },
  );

  it('moves the operator\u2019s webhook port (GKE private clusters admit 10250 from the control plane), the Service still on 443', async () => {
    const docs = await render(['--set', 'operator.listenPort=10250']);
    const operator = find(docs, 'Deployment') as Manifest & {
      spec: {
        template: {
          spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[] }[] };
        };
      };
    };
    const container = operator.spec.template.spec.containers[0];
    expect(container?.args).toContain('--listen=:10250');
    expect(container?.ports).toContainEqual(expect.objectContaining({ name: 'https', containerPort: 10250 }));
    const service = find(docs, 'Service') as Manifest & {
      spec: { ports: { port: number; targetPort: string }[] };
    };
    expect(service.spec.ports).toContainEqual(expect.objectContaining({ port: 443, targetPort: 'https' }));
    await expect(render(['--set', 'operator.listenPort=443'])).rejects.toThrow(/listenPort/);
  });

  it('runs the operator on the node\u2019s network when told (EKS with an overlay CNI): ports of its own, one replica per node, one replaced at a time', async () => {
    type Operator = Manifest & {
      spec: {
        strategy: { rollingUpdate: Record<string, number> };
        template: {
          spec: {
            hostNetwork?: boolean;
            dnsPolicy?: string;
            affinity: { podAntiAffinity: Record<string, unknown> };
            containers: { args: string[]; ports: { name: string; containerPort: number }[] }[];
          };
        };
      };
    };
    const plain = find(await render(), 'Deployment') as Operator;
    expect(plain.spec.template.spec.hostNetwork).toBeUndefined();
    expect(plain.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    expect(Object.keys(plain.spec.template.spec.affinity.podAntiAffinity)).toEqual([
      'preferredDuringSchedulingIgnoredDuringExecution',
    ]);
    const onNode = find(
      await render([
        '--set',
        'operator.hostNetwork=true',
        '--set',
        'operator.listenPort=9443',
        '--set',
        'operator.metricsPort=9444',
      ]),
      'Deployment',
    ) as Operator;
    const pod = onNode.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(pod.affinity.podAntiAffinity).toEqual({
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/name': 'gatehouse' }) },
        },
      ],
    });
    expect(onNode.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 });
    const container = pod.containers[0];
    expect(container?.args).toEqual(expect.arrayContaining(['--listen=:9443', '--admin-listen=:9444']));
    expect(container?.ports).toEqual([
      expect.objectContaining({ name: 'https', containerPort: 9443 }),
      expect.objectContaining({ name: 'metrics', containerPort: 9444 }),
    ]);
    // The node's own ports, and one port for both, are refused with the value's name.
    for (const [value, port] of [
      ['listenPort', 10250],
      ['metricsPort', 10256],
      ['metricsPort', 10249],
    ] as const)
      await expect(
        render(['--set', 'operator.hostNetwork=true', '--set', `operator.${value}=${port}`]),
      ).rejects.toThrow(new RegExp(`operator\\.${value} ${port} is a port of the node`));
    await expect(render(['--set', 'operator.metricsPort=8443'])).rejects.toThrow(
      /operator\.listenPort and operator\.metricsPort are both 8443/,
    );
  });

  it('refuses a UID that is not one', async () => {
    await expect(render(['--set', 'runAsUser=0'])).rejects.toThrow(/runAsUser/);
  });

  it('registers the webhook on Pod CREATE by label, without a caBundle, excluding its own namespace and kube-system', async () => {
    const config = find(await render(), 'MutatingWebhookConfiguration') as Manifest & {
      webhooks: Record<string, unknown>[];
    };
    expect(config.webhooks).toHaveLength(1);
    const webhook = config.webhooks[0] as Record<string, unknown>;
    expect(webhook).toMatchObject({
      name: 'inject.gatehouse.dev',
      clientConfig: { service: { name: 'gatehouse-operator', namespace: NAMESPACE, path: '/v1/inject' } },
      rules: [{ operations: ['CREATE'], resources: ['pods'] }],
      objectSelector: { matchLabels: { 'gatehouse.dev/inject': 'true' } },
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NAMESPACE, 'kube-system'] },
        ],
      },
      failurePolicy: 'Fail',
      sideEffects: 'None',
      timeoutSeconds: 10,
    });
    expect((webhook.clientConfig as Record<string, unknown>).caBundle).toBeUndefined();
    const custom = find(await render(EVERYTHING), 'MutatingWebhookConfiguration') as Manifest & {
      webhooks: { failurePolicy: string; namespaceSelector: { matchExpressions: unknown[] } }[];
    };
    expect(custom.webhooks[0]?.failurePolicy).toBe('Ignore');
    expect(custom.webhooks[0]?.namespaceSelector.matchExpressions).toEqual([
      {
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: [NAMESPACE, 'kube-system', 'monitoring'],
      },
      { key: 'gatehouse.dev/enabled', operator: 'In', values: ['yes'] },
    ]);
  });

  it("grants exactly the operator's rules, to the chart's ServiceAccount", async () => {
    const docs = await render();
    const clusterRole = docs.find(
      (d) => d.kind === 'ClusterRole' && d.metadata.name === 'gatehouse-operator',
    ) as Manifest & {
      rules: unknown;
    };
    const role = find(docs, 'Role') as Manifest & { rules: unknown };
    expect(clusterRole.rules).toEqual(OPERATOR_RULES);
    expect(role.rules).toEqual(OPERATOR_NAMESPACE_RULES);
    expect(role.metadata.namespace).toBe(NAMESPACE);
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      expect((find(docs, kind) as Manifest & { subjects: unknown }).subjects).toEqual([
        { kind: 'ServiceAccount', name: 'gatehouse-operator', namespace: NAMESPACE },
      ]);
    }
    // The only bindings are the operator's; the analyst roles are for people and bound to no one.
    const bindings = docs.filter((d) => /Binding$/.test(d.kind)) as (Manifest & {
      roleRef: { name: string };
    })[];
    expect(bindings.map((b) => `${b.kind}/${b.roleRef.name}`).sort()).toEqual([
      'ClusterRoleBinding/gatehouse-operator',
      'RoleBinding/gatehouse-operator',
    ]);
    expect(
      docs
        .filter((d) => /Role$/.test(d.kind))
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['gatehouse-auditor', 'gatehouse-operator', 'gatehouse-operator', 'gatehouse-revoker']);
    const noAnalysts = await render(['--set', 'analystRoles.enabled=false']);
    expect(noAnalysts.filter((d) => /Role$/.test(d.kind)).map((d) => d.metadata.name)).toEqual([
      'gatehouse-operator',
      'gatehouse-operator',
    ]);
  });

  it('carries the same CRD files as crds/', async () => {
    for (const file of [
      'accessapplications.gatehouse.dev.yaml',
      'accesspolicies.gatehouse.dev.yaml',
      'accessrevocations.gatehouse.dev.yaml',
    ]) {
      expect(readFileSync(resolve(CHART, 'crds', file), 'utf8')).toBe(
        readFileSync(resolve(CHART, '../../crds', file), 'utf8'),
      );
    }
    const withCrds = await render(['--include-crds']);
    expect(
      withCrds
        .filter((d) => d.kind === 'CustomResourceDefinition')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual([
      'accessapplications.gatehouse.dev',
      'accesspolicies.gatehouse.dev',
      'accessrevocations.gatehouse.dev',
    ]);
  });

  it("helm install and helm upgrade keep the operator's caBundle on the webhook", async () => {
    await helm(['install', 'gatehouse', CHART, '--namespace', NAMESPACE], cluster.kubeconfig);
    const operator = new KubeClient(cluster.connection());
    const installed = await operator.get(
      MUTATING_WEBHOOK_CONFIGURATIONS,
      undefined,
      WEBHOOK_CONFIGURATION_NAME,
    );
    const body = caBundleApply(installed as KubeObject, 'PEM BUNDLE');
    await operator.apply(MUTATING_WEBHOOK_CONFIGURATIONS, body as KubeObject);
    await helm(
      ['upgrade', 'gatehouse', CHART, '--namespace', NAMESPACE, '--set', 'webhook.timeoutSeconds=5'],
      cluster.kubeconfig,
    );
    const upgraded = (await operator.get(
      MUTATING_WEBHOOK_CONFIGURATIONS,
      undefined,
      WEBHOOK_CONFIGURATION_NAME,
    )) as
      | (KubeObject & { webhooks: { timeoutSeconds: number; clientConfig: { caBundle?: string } }[] })
      | undefined;
    expect(upgraded?.webhooks[0]?.timeoutSeconds).toBe(5);
    expect(upgraded?.webhooks[0]?.clientConfig.caBundle).toBe(Buffer.from('PEM BUNDLE').toString('base64'));
    await helm(['uninstall', 'gatehouse', '--namespace', NAMESPACE], cluster.kubeconfig);
  });

  it.each([
    ['an unknown top-level key', ['--set', 'replicas=3'], /additional properties 'replicas' not allowed/],
    ['an unknown nested key', ['--set', 'operator.replica=3'], /additional properties 'replica' not allowed/],
    ['a wrong type', ['--set', 'operator.replicas=two'], /operator\/replicas/],
    ['a bad enum', ['--set', 'webhook.failurePolicy=Sometimes'], /must be one of 'Fail', 'Ignore'/],
    ['a bad duration', ['--set', 'operator.tls.certValidity=90days'], /operator\/tls\/certValidity/],
    ['a timeout over 30 s', ['--set', 'webhook.timeoutSeconds=45'], /webhook\/timeoutSeconds/],
    [
      'an egress proxy without a scheme',
      ['--set', 'sidecar.egressProxy.httpsProxy=proxy.corp:3128'],
      /sidecar\/egressProxy\/httpsProxy/,
    ],
  ])('values.schema.json refuses %s', async (_what, values, message) => {
    await expect(render(values)).rejects.toThrow(message);
  });
});
