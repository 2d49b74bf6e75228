import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_APPLICATIONS, ACCESS_POLICIES } from '../../contract/api/resource-types.ts';
import type { Condition } from '../../contract/api/status.ts';
import { keysFromSecretData } from '../../contract/keys.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import {
  ENDPOINT_SLICES,
  EVENTS,
  LEASES,
  NETWORK_POLICIES,
  PODS,
  SECRETS,
  SERVICES,
} from '../../lib/kube/resource-types.ts';
import { secretStrings } from '../../lib/kube/secret-data.ts';
import { injectPod } from '../../operator/src/injection/inject-pod.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import { createCertificateAuthority } from '../../operator/src/tls/certificates.ts';
import {
  eventually,
  OPERATOR_NAMESPACE,
  type OperatorCluster,
  startOperatorCluster,
} from '../helpers/operator-cluster.ts';
import { clientCertificate } from '../helpers/tls.ts';

const NS = 'team-a';
const INJECTION = parseInjectionSettings(
  {
    image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
    operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
  },
  'test',
);
let env: OperatorCluster;

const policy = (
  name: string,
  spec: Record<string, unknown> = { decision: 'allow', include: [{ emailDomains: ['example.com'] }] },
): KubeObject => ({
  metadata: { name, namespace: NS },
  spec,
});
const application = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name, namespace: NS },
  spec: { hosts: [`${name}.example.com`], upstream: { url: 'http://127.0.0.1:8080' }, ...spec },
});

async function readyWithin(
  ms: number,
  resource: typeof ACCESS_APPLICATIONS,
  name: string,
  status: string,
  reason?: string,
) {
  const started = Date.now();
  const condition = await eventually(
    async () => {
      const c = await env.ready(resource, NS, name);
      return c && c.status === status && (!reason || c.reason === reason) ? c : undefined;
    },
    ms,
    `${name} Ready=${status}${reason ? ` (${reason})` : ''}`,
  );
  return { condition, ms: Date.now() - started };
}

beforeAll(async () => {
  env = await startOperatorCluster({ namespaces: [NS] });
  await eventually(async () => env.operator.isLeader(), 10_000, 'leader');
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

describe('operator against a real API server', () => {
  it('makes an application Ready within 2 s, with its keys Secret owned by it', async () => {
    await env.admin.apply(ACCESS_POLICIES, policy('staff'));
    const started = Date.now();
    await env.admin.apply(ACCESS_APPLICATIONS, application('grafana', { policies: [{ name: 'staff' }] }));
    const { condition } = await readyWithin(2_000, ACCESS_APPLICATIONS, 'grafana', 'True', 'Ready');
    expect(Date.now() - started).toBeLessThan(2_000);
    const app = await env.admin.get(ACCESS_APPLICATIONS, NS, 'grafana');
    expect(condition.observedGeneration).toBe(app?.metadata.generation);
    expect((app?.status as { observedGeneration?: number } | undefined)?.observedGeneration).toBe(
      app?.metadata.generation,
    );
    expect((app?.status as { configHash?: string } | undefined)?.configHash).toMatch(/^[0-9a-f]{16}$/);

    const secret = await env.admin.get(SECRETS, NS, 'grafana-gatehouse-keys');
    expect(secret?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'AccessApplication',
      name: 'grafana',
      uid: app?.metadata.uid,
      controller: true,
    });
    const keys = keysFromSecretData(secretStrings(secret as KubeObject)) as {
      cookie: { kid: string; secret: string }[];
      signing: { kid: string; alg: string; d: string }[];
    };
    expect(keys.cookie[0]?.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keys.signing[0]).toMatchObject({ alg: 'ES256', kty: 'EC' });
    expect(env.operator.hub.get(`${NS}/grafana`)?.generation).toBe(
      (app?.status as { configHash?: string } | undefined)?.configHash,
    );

    const policyReady = await readyWithin(2_000, ACCESS_POLICIES, 'staff', 'True', 'Valid');
    expect(policyReady.condition.message).toBe('the policy compiles');
  });

  it('reports a deleted policy as PolicyNotFound, enforces it as deny-everyone, and recovers when it is back', async () => {
    const before = env.operator.hub.get(`${NS}/grafana`)?.generation;
    await env.admin.delete(ACCESS_POLICIES, NS, 'staff');
    const gone = await readyWithin(2_000, ACCESS_APPLICATIONS, 'grafana', 'False', 'PolicyNotFound');
    expect(gone.condition.message).toContain('AccessPolicy "staff" not found in namespace team-a');
    const served = env.operator.hub.get(`${NS}/grafana`);
    expect(served?.generation).not.toBe(before);
    const config = JSON.parse(served?.line ?? '{}').config;
    expect(config.policies).toEqual([
      expect.objectContaining({ name: 'team-a/staff', decision: 'deny', include: [{ everyone: true }] }),
    ]);

    // The Event is written after the status, without holding up the reconcile: wait for it.
    await eventually(
      async () => {
        const events = await env.admin.list(EVENTS, {
          namespace: NS,
          fieldSelector: 'involvedObject.name=grafana',
        });
        return events.items.some((e) => e.reason === 'PolicyNotFound' && e.type === 'Warning');
      },
      2_000,
      'a Warning Event PolicyNotFound on grafana',
    );

    await env.admin.apply(ACCESS_POLICIES, policy('staff'));
    const back = await readyWithin(2_000, ACCESS_APPLICATIONS, 'grafana', 'True', 'Ready');
    expect(back.condition.lastTransitionTime >= gone.condition.lastTransitionTime).toBe(true);
    expect(env.operator.hub.get(`${NS}/grafana`)?.generation).toBe(before);
  });

  it('reports a missing provider secret, then becomes Ready when the Secret appears', async () => {
    // Its own precondition, so that an earlier failure is not reported again here.
    await env.admin.apply(ACCESS_POLICIES, policy('staff'));
    await env.admin.apply(
      ACCESS_APPLICATIONS,
      application('wiki', {
        policies: [{ name: 'staff' }],
        authentication: {
          externalUrl: 'https://wiki.example.com',
          identityProviders: [
            {
              name: 'corp',
              issuer: 'https://idp.example.com',
              clientId: 'wiki',
              clientSecretRef: { name: 'wiki-oidc', key: 'client-secret' },
            },
          ],
        },
      }),
    );
    const missing = await readyWithin(2_000, ACCESS_APPLICATIONS, 'wiki', 'False', 'ProviderSecretMissing');
    expect(missing.condition.message).toContain(
      'Secret "wiki-oidc" key "client-secret" (identity provider corp)',
    );
    await env.admin.create(SECRETS, NS, {
      metadata: { name: 'wiki-oidc', namespace: NS },
      stringData: { 'client-secret': 's3cret-value' },
    });
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'wiki', 'True', 'Ready');
  });

  it('reports a missing upstream CA Secret, then serves the CA and the name to check once it appears, and again when it changes', async () => {
    await env.admin.apply(ACCESS_POLICIES, policy('staff'));
    await env.admin.apply(
      ACCESS_APPLICATIONS,
      application('argocd', {
        policies: [{ name: 'staff' }],
        upstream: {
          url: 'https://argocd-server.argocd.svc',
          tls: { caSecretRef: { name: 'argocd-ca', key: 'ca.crt' } },
        },
      }),
    );
    const missing = await readyWithin(2_000, ACCESS_APPLICATIONS, 'argocd', 'False', 'UpstreamSecretMissing');
    expect(missing.condition.message).toContain('Secret "argocd-ca" key "ca.crt" (the upstream\'s CA)');
    const first = createCertificateAuthority('argocd CA', new Date(), 86_400_000).cert;
    await env.admin.create(SECRETS, NS, {
      metadata: { name: 'argocd-ca', namespace: NS },
      stringData: { 'ca.crt': first },
    });
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'argocd', 'True', 'Ready');
    expect(env.operator.hub.get(`${NS}/argocd`)?.config.upstream.tls).toEqual({
      ca: first,
      serverName: 'argocd-server.argocd.svc',
    });
    // A new CA in the Secret reaches the sidecars' config: the Secret is watched for this application.
    const second = createCertificateAuthority('argocd CA 2', new Date(), 86_400_000).cert;
    const secret = (await env.admin.get(SECRETS, NS, 'argocd-ca')) as KubeObject;
    await env.admin.replace(SECRETS, { ...secret, data: undefined, stringData: { 'ca.crt': second } });
    await eventually(
      async () => env.operator.hub.get(`${NS}/argocd`)?.config.upstream.tls?.ca === second,
      2_000,
      'the new CA served',
    );
  });

  it('a client certificate for the upstream (mutual TLS): missing, then a key of another certificate, then served and renewed', async () => {
    await env.admin.apply(
      ACCESS_APPLICATIONS,
      application('vault', {
        policies: [{ name: 'staff' }],
        upstream: {
          url: 'https://vault.vault.svc:8200',
          tls: { clientCertificateSecretRef: { name: 'vault-client' } },
        },
      }),
    );
    const missing = await readyWithin(2_000, ACCESS_APPLICATIONS, 'vault', 'False', 'UpstreamSecretMissing');
    expect(missing.condition.message).toContain(
      'Secret "vault-client" (the client certificate for the upstream)',
    );
    const [first, other] = [clientCertificate('vault-gatehouse'), clientCertificate('someone-else')];
    await env.admin.create(SECRETS, NS, {
      metadata: { name: 'vault-client', namespace: NS },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': first.cert, 'tls.key': other.key },
    });
    const refused = await readyWithin(2_000, ACCESS_APPLICATIONS, 'vault', 'False', 'InvalidConfig');
    expect(refused.condition.message).toContain('is not the key of the first certificate');
    expect(refused.condition.message).not.toContain('PRIVATE KEY');
    const secret = (await env.admin.get(SECRETS, NS, 'vault-client')) as KubeObject;
    await env.admin.replace(SECRETS, {
      ...secret,
      data: undefined,
      stringData: { 'tls.crt': first.cert, 'tls.key': first.key },
    });
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'vault', 'True', 'Ready');
    expect(env.operator.hub.get(`${NS}/vault`)?.config.upstream.tls?.clientCertificate?.certificates).toBe(
      first.cert,
    );
    // Renewed (as cert-manager does): the Secret is watched for this application.
    const renewed = clientCertificate('vault-gatehouse');
    const current = (await env.admin.get(SECRETS, NS, 'vault-client')) as KubeObject;
    await env.admin.replace(SECRETS, {
      ...current,
      data: undefined,
      stringData: { 'tls.crt': renewed.chain, 'tls.key': renewed.key },
    });
    await eventually(
      async () =>
        env.operator.hub.get(`${NS}/vault`)?.config.upstream.tls?.clientCertificate?.certificates ===
        renewed.chain,
      2_000,
      'the renewed certificate served',
    );
  });

  it('reports a policy the compiler refuses, on the policy and on its application', async () => {
    await env.admin.apply(
      ACCESS_POLICIES,
      policy('open-admin', { decision: 'bypass', include: [{ emails: ['a@example.com'] }] }),
    );
    await env.admin.apply(ACCESS_APPLICATIONS, application('admin', { policies: [{ name: 'open-admin' }] }));
    const onPolicy = await readyWithin(2_000, ACCESS_POLICIES, 'open-admin', 'False', 'PolicyInvalid');
    expect(onPolicy.condition.message).toContain('spec.include[0]');
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'admin', 'False', 'PolicyInvalid');
  });

  it('writes nothing when a reconcile renders the same config', async () => {
    await eventually(async () => env.operator.queueDepth === 0, 5_000, 'queue drained');
    const writes = async () =>
      (await env.operator.metrics.writes.get()).values.reduce((n, v) => n + v.value, 0);
    const reconciles = async () =>
      (await env.operator.metrics.reconciles.get()).values.reduce((n, v) => n + v.value, 0);
    const [writesBefore, reconcilesBefore] = [await writes(), await reconciles()];
    // A label change is a new resourceVersion but not a new generation: reconciled, nothing to write.
    const app = await env.admin.get(ACCESS_APPLICATIONS, NS, 'grafana');
    await env.admin.apply(ACCESS_APPLICATIONS, {
      ...application('grafana', { policies: [{ name: 'staff' }] }),
      metadata: {
        ...app?.metadata,
        name: 'grafana',
        namespace: NS,
        labels: { touched: 'yes' },
        managedFields: undefined,
        resourceVersion: undefined,
      } as KubeObject['metadata'],
    });
    await eventually(
      async () => (await reconciles()) > reconcilesBefore && env.operator.queueDepth === 0,
      5_000,
      'reconciled',
    );
    expect(await writes()).toBe(writesBefore);
  });

  it('names the pods of an application that run without the sidecar (condition Protected), with an Event and a metric; the Ready condition stays', async () => {
    await env.admin.apply(ACCESS_APPLICATIONS, application('shop', { policies: [{ name: 'staff' }] }));
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'shop', 'True', 'Ready');
    const conditions = async () =>
      ((await env.admin.get(ACCESS_APPLICATIONS, NS, 'shop'))?.status as { conditions?: Condition[] })
        ?.conditions ?? [];
    const protectedNow = async () => (await conditions()).find((c) => c.type === 'Protected');
    await eventually(async () => (await protectedNow())?.status === 'True', 3_000, 'Protected=True');
    const pod = (name: string, sidecar: boolean) =>
      env.admin.create(PODS, NS, {
        metadata: { name, namespace: NS, labels: { 'gatehouse.dev/application': 'shop' } },
        spec: {
          ...(sidecar
            ? { initContainers: [{ name: 'gatehouse', image: 'gatehouse:1', restartPolicy: 'Always' }] }
            : {}),
          containers: [{ name: 'app', image: 'shop:1' }],
        },
      });
    await pod('shop-injected', true);
    await pod('shop-plain', false);
    // A pod that ran to its end serves nothing: not counted.
    await pod('shop-job', false);
    await env.cluster.kubectl([
      'patch',
      'pod',
      'shop-job',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      `-p=${JSON.stringify({ status: { phase: 'Succeeded' } })}`,
    ]);
    const unprotected = await eventually(
      async () => {
        const c = await protectedNow();
        return c?.status === 'False' && !c.message.includes('shop-job') ? c : undefined;
      },
      3_000,
      'Protected=False',
    );
    expect(unprotected.reason).toBe('PodsWithoutSidecar');
    expect(unprotected.message).toMatch(
      new RegExp(
        `^1 pod of the application runs without the Gatehouse sidecar, so its Service port reaches the application with no sign-in, policy or log line: ${NS}/shop-plain\\. `,
      ),
    );
    const metrics = async () => (await fetch(`http://127.0.0.1:${env.ports.adminPort}/metrics`)).text();
    expect(await metrics()).toContain(
      `gatehouse_operator_pods_without_sidecar{namespace="${NS}",application="shop"} 1`,
    );
    const events = async (reason: string) =>
      (await env.admin.list(EVENTS, { namespace: NS })).items.filter(
        (e) =>
          (e as unknown as { reason?: string }).reason === reason &&
          (e as unknown as { involvedObject?: { name?: string } }).involvedObject?.name === 'shop',
      );
    // A Warning each time the list changes (here: shop-job counted while it was Pending, then not).
    await eventually(async () => (await events('PodsWithoutSidecar')).length > 0, 3_000, 'its Event');

    // The Ready condition's writer and this one leave each other's condition as it is.
    await env.admin.apply(
      ACCESS_APPLICATIONS,
      application('shop', {
        policies: [{ name: 'staff' }],
        hosts: ['shop.example.com', 'store.example.com'],
      }),
    );
    await eventually(
      async () =>
        (await conditions()).find((c) => c.type === 'Ready')?.message === 'serving 2 host(s) with 1 policy',
      3_000,
      'Ready rewritten',
    );
    expect((await protectedNow())?.status).toBe('False');

    await env.cluster.kubectl(['delete', 'pod', 'shop-plain', '-n', NS, '--grace-period=0', '--force']);
    await eventually(async () => (await protectedNow())?.status === 'True', 3_000, 'Protected=True again');
    expect((await conditions()).find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(await metrics()).not.toContain('gatehouse_operator_pods_without_sidecar{');
    await eventually(
      async () => (await events('SidecarsInjected')).length === 1,
      3_000,
      'the Event of its end',
    );
  });

  it('names the Service ports that target an injected application\u2019s own port, past its sidecar (condition Protected)', async () => {
    await env.admin.apply(ACCESS_APPLICATIONS, application('catalog', { policies: [{ name: 'staff' }] }));
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'catalog', 'True', 'Ready');
    const protectedNow = async () =>
      (
        ((await env.admin.get(ACCESS_APPLICATIONS, NS, 'catalog'))?.status as { conditions?: Condition[] })
          ?.conditions ?? []
      ).find((c) => c.type === 'Protected');
    // A pod as the webhook injects it: the app's http (8080) renamed app-http, the sidecar on http.
    const injected = injectPod(
      {
        metadata: {
          name: 'catalog-1',
          namespace: NS,
          labels: { app: 'catalog', 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'catalog' },
        },
        spec: {
          containers: [{ name: 'app', image: 'catalog:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
      { settings: INJECTION, caBundle: 'PEM', nativeSidecar: true },
    );
    if (injected.kind !== 'injected') throw new Error(JSON.stringify(injected));
    await env.admin.create(PODS, NS, injected.pod);
    const service = (name: string, ports: object[]) =>
      env.admin.apply(SERVICES, {
        metadata: { name, namespace: NS },
        spec: { selector: { app: 'catalog' }, ports },
      });
    await service('catalog', [{ name: 'web', port: 80, targetPort: 'http' }]);
    await service('catalog-direct', [{ name: 'web', port: 80, targetPort: 8080 }]);
    await service('catalog-renamed', [
      { name: 'plain', port: 8080 },
      { name: 'other', port: 9000, targetPort: 'app-http' },
    ]);
    const past = await eventually(
      async () => {
        const c = await protectedNow();
        return c?.status === 'False' && c.message.includes('catalog-renamed:9000') ? c : undefined;
      },
      3_000,
      'Protected=False',
    );
    expect(past.reason).toBe('ServicePastSidecar');
    expect(past.message).toMatch(
      /^Service ports catalog-direct:80, catalog-renamed:8080, catalog-renamed:9000 target the application\u2019s own port, past the sidecar/,
    );
    const metrics = async () => (await fetch(`http://127.0.0.1:${env.ports.adminPort}/metrics`)).text();
    expect(await metrics()).toContain(
      `gatehouse_operator_services_past_sidecar{namespace="${NS}",application="catalog"} 3`,
    );
    await service('catalog-direct', [{ name: 'web', port: 80, targetPort: 'http' }]);
    await env.cluster.kubectl(['delete', 'service', 'catalog-renamed', '-n', NS]);
    await eventually(async () => (await protectedNow())?.status === 'True', 3_000, 'Protected=True again');
    expect(await metrics()).not.toContain('gatehouse_operator_services_past_sidecar{');

    // A Service without a selector, its endpoints written by hand: the pod's address at the
    // application's own port.
    await env.admin.apply(
      PODS,
      {
        metadata: { name: 'catalog-1', namespace: NS },
        status: { podIP: '10.1.2.3', podIPs: [{ ip: '10.1.2.3' }] },
      },
      'status',
    );
    await env.admin.apply(SERVICES, {
      metadata: { name: 'catalog-manual', namespace: NS },
      spec: { ports: [{ name: 'web', port: 80 }] },
    });
    const slice = (port: number) =>
      env.admin.apply(ENDPOINT_SLICES, {
        metadata: {
          name: 'catalog-manual-1',
          namespace: NS,
          labels: { 'kubernetes.io/service-name': 'catalog-manual' },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.1.2.3'] }],
        ports: [{ name: 'web', port, protocol: 'TCP' }],
      } as unknown as KubeObject);
    await slice(8080);
    const manual = await eventually(
      async () => {
        const c = await protectedNow();
        return c?.status === 'False' && c.message.includes('catalog-manual:80') ? c : undefined;
      },
      3_000,
      'Protected=False for endpoints written by hand',
    );
    expect(manual.reason).toBe('ServicePastSidecar');
    // Pointed at the sidecar's port instead: protected.
    await slice(4180);
    await eventually(async () => (await protectedNow())?.status === 'True', 3_000, 'Protected=True again');
  });

  it('says whether NetworkPolicies close an injected application\u2019s own port to the cluster (condition AppPortClosed), with an Event when it opens or closes', async () => {
    await env.admin.apply(ACCESS_APPLICATIONS, application('ledger', { policies: [{ name: 'staff' }] }));
    await readyWithin(2_000, ACCESS_APPLICATIONS, 'ledger', 'True', 'Ready');
    const conditions = async () =>
      ((await env.admin.get(ACCESS_APPLICATIONS, NS, 'ledger'))?.status as { conditions?: Condition[] })
        ?.conditions ?? [];
    const portNow = async () => (await conditions()).find((c) => c.type === 'AppPortClosed');
    const portBecomes = (status: string, reason: string) =>
      eventually(
        async () => {
          const c = await portNow();
          return c?.status === status && c.reason === reason ? c : undefined;
        },
        3_000,
        `AppPortClosed=${status} ${reason}`,
      );
    await portBecomes('Unknown', 'NoInjectedPods');
    // A pod as the webhook injects it: the app's http (8080) renamed app-http, the sidecar on http.
    const injected = injectPod(
      {
        metadata: {
          name: 'ledger-1',
          namespace: NS,
          labels: { app: 'ledger', 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'ledger' },
        },
        spec: {
          containers: [{ name: 'app', image: 'ledger:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
      { settings: INJECTION, caBundle: 'PEM', nativeSidecar: true },
    );
    if (injected.kind !== 'injected') throw new Error(JSON.stringify(injected));
    await env.admin.create(PODS, NS, injected.pod);
    const open = await portBecomes('False', 'NoNetworkPolicy');
    expect(open.message).toMatch(
      /^no NetworkPolicy selects pod ledger-1 for ingress, so any pod of the cluster reaches the application\u2019s own port 8080/,
    );
    // The first word is no news (most clusters start without NetworkPolicies): no Event for it.
    const events = async (reason: string) =>
      (await env.admin.list(EVENTS, { namespace: NS })).items.filter(
        (e) =>
          (e as unknown as { reason?: string }).reason === reason &&
          (e as unknown as { involvedObject?: { name?: string } }).involvedObject?.name === 'ledger',
      );
    expect(await events('NoNetworkPolicy')).toEqual([]);
    // The metrics answer a few scrapes a second per address: wait for a turn.
    const metrics = async (): Promise<string> => {
      for (;;) {
        const text = await (await fetch(`http://127.0.0.1:${env.ports.adminPort}/metrics`)).text();
        if (text !== 'too many scrapes\n') return text;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const openSeries = `gatehouse_operator_app_port_open{namespace="${NS}",application="ledger"} 1`;
    expect(await metrics()).toContain(openSeries);

    // The NetworkPolicy docs/injection.md gives: every port of the pods but the application's.
    const networkPolicy = (name: string, spec: object) =>
      env.admin.apply(NETWORK_POLICIES, { metadata: { name, namespace: NS }, spec } as unknown as KubeObject);
    await networkPolicy('ledger-only-through-gatehouse', {
      podSelector: { matchLabels: { 'gatehouse.dev/application': 'ledger' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [
            { protocol: 'TCP', port: 1, endPort: 8079 },
            { protocol: 'TCP', port: 8081, endPort: 65535 },
          ],
        },
      ],
    });
    const closed = await portBecomes('True', 'NetworkPolicyCloses');
    expect(closed.message).toContain(
      'NetworkPolicy ledger-only-through-gatehouse isolates the application\u2019s pods',
    );
    await eventually(async () => (await events('NetworkPolicyCloses')).length === 1, 3_000, 'its Event');
    expect(await metrics()).not.toContain(openSeries);

    // Another policy that admits the renamed port from the ingress namespace opens it again.
    await networkPolicy('ledger-from-ingress', {
      podSelector: { matchLabels: { app: 'ledger' } },
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { name: 'ingress' } } }],
          ports: [{ port: 'app-http' }],
        },
      ],
    });
    const admitted = await portBecomes('False', 'NetworkPolicyAdmits');
    expect(admitted.message).toContain(
      'NetworkPolicy ledger-from-ingress admits the application\u2019s own port 8080 of pod ledger-1 (ingress[0], from the peers it lists)',
    );
    await eventually(async () => (await events('NetworkPolicyAdmits')).length === 1, 3_000, 'its Warning');
    expect(await metrics()).toContain(openSeries);
    // The Protected condition is another matter: every pod is injected, no Service reaches past.
    expect((await conditions()).find((c) => c.type === 'Protected')?.status).toBe('True');

    await env.cluster.kubectl(['delete', 'networkpolicy', 'ledger-from-ingress', '-n', NS]);
    await portBecomes('True', 'NetworkPolicyCloses');
    await env.cluster.kubectl(['delete', 'pod', 'ledger-1', '-n', NS, '--grace-period=0', '--force']);
    await portBecomes('Unknown', 'NoInjectedPods');
  });

  it('holds the Lease and exposes metrics', async () => {
    const lease = await env.admin.get(LEASES, OPERATOR_NAMESPACE, 'gatehouse-operator');
    expect((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity).toBe('operator-0');
    const text = await (await fetch(`http://127.0.0.1:${env.ports.adminPort}/metrics`)).text();
    for (const name of [
      'gatehouse_operator_reconciles_total',
      'gatehouse_operator_reconcile_duration_seconds_bucket',
      'gatehouse_operator_reconcile_errors_total',
      'gatehouse_operator_queue_depth',
      'gatehouse_operator_connected_sidecars',
      'gatehouse_operator_leader 1',
      'gatehouse_operator_applications{ready="True"}',
    ]) {
      expect(text).toContain(name);
    }
    expect((await fetch(`http://127.0.0.1:${env.ports.adminPort}/readyz`)).status).toBe(200);
  });
});
