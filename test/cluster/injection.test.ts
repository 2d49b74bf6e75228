import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ACCESS_APPLICATIONS, ACCESS_REVOCATIONS } from '../../contract/api/resource-types.ts';
import { sessionEndRevocationName } from '../../contract/session-ends.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import {
  DEPLOYMENTS,
  EVENTS,
  MUTATING_WEBHOOK_CONFIGURATIONS,
  PODS,
  SECRETS,
} from '../../lib/kube/resource-types.ts';
import { secretStrings } from '../../lib/kube/secret-data.ts';
import type { ContainerLike, PodLike } from '../../operator/src/injection/pod-shape.ts';
import { OPERATOR_NAMESPACE_RULES, OPERATOR_RULES } from '../../operator/src/rbac.ts';
import { type ControlPlane, freePort, startControlPlane } from '../helpers/control-plane.ts';
import { kubeconfigWithUser } from '../helpers/exec-plugin.ts';
import { helm } from '../helpers/helm.ts';
import { startLoggingProcess } from '../helpers/logging-process.ts';
import { eventually, waitForCrds } from '../helpers/operator-cluster.ts';
import { type OperatorProcess, startOperatorProcess } from '../helpers/operator-process.ts';
import {
  GATEHOUSE_BIN,
  runGatehouse,
  type SidecarProcess,
  startSidecarProcess,
} from '../helpers/sidecar-process.ts';

/**
 * The README's cluster quickstart, run as written against a real API server: CRDs, helm install,
 * the example app, the annotation. What differs, because this API server has no nodes,
 * controllers or cluster network: the operator runs as a local process (under the chart's
 * ServiceAccount, by impersonation, with the args of the chart's Deployment); the webhook's
 * clientConfig is pointed at it by URL; and the test creates pods from the Deployment's template
 * as the ReplicaSet controller would.
 */
const QUICKSTART = {
  crds: 'kubectl apply --server-side -f crds/',
  install: 'helm install gatehouse charts/gatehouse --namespace gatehouse-system --create-namespace',
  example: 'kubectl apply -f examples/cluster/storefront.yaml',
  optIn:
    'kubectl -n shop annotate deployment storefront gatehouse.dev/inject=true gatehouse.dev/application=storefront',
  optOut: 'kubectl -n shop annotate deployment storefront gatehouse.dev/inject- gatehouse.dev/application-',
};
const SYSTEM = 'gatehouse-system';
const NS = 'shop';
const SERVICE_ACCOUNT = `system:serviceaccount:${SYSTEM}:gatehouse-operator`;
const WEBHOOK = 'gatehouse-sidecar-injector';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-injection-'));

let cluster: ControlPlane;
let admin: KubeClient;
let operator: OperatorProcess;
let upstream: Server;
let sidecar: SidecarProcess | undefined;
let injected: PodLike;

async function run(command: string): Promise<string> {
  const [tool, ...args] = command.split(' ');
  return tool === 'helm' ? helm(args, cluster.kubeconfig) : cluster.kubectl(args);
}

const templateLabels = async (): Promise<Record<string, string>> => {
  const deployment = (await admin.get(DEPLOYMENTS, NS, 'storefront')) as KubeObject & {
    spec: { template: { metadata: { labels: Record<string, string> } } };
  };
  return deployment.spec.template.metadata.labels;
};

/** Creates a Pod from the Deployment's pod template, as the ReplicaSet controller would. */
async function podFromTemplate(): Promise<PodLike> {
  const deployment = (await admin.get(DEPLOYMENTS, NS, 'storefront')) as KubeObject & {
    spec: { template: { metadata: PodLike['metadata']; spec: PodLike['spec'] } };
  };
  const { metadata, spec } = deployment.spec.template;
  return admin.create<PodLike>(PODS, NS, {
    metadata: { ...metadata, generateName: 'storefront-', namespace: NS },
    spec,
  });
}

const containers = (pod: PodLike): ContainerLike[] => [
  ...(pod.spec?.initContainers ?? []),
  ...(pod.spec?.containers ?? []),
];
const sidecarOf = (pod: PodLike) => containers(pod).find((c) => c.name === 'gatehouse');

async function metric(name: string): Promise<number> {
  let res = await request(`http://127.0.0.1:${operator.adminPort}/metrics`);
  // The admin port renders /metrics 5 times a second per address; past that it says when to come back.
  while (res.statusCode === 429) {
    await res.body.text();
    await new Promise((r) => setTimeout(r, Number(res.headers['retry-after'] ?? 1) * 1000));
    res = await request(`http://127.0.0.1:${operator.adminPort}/metrics`);
  }
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The `gatehouse_config_waiting` series a sidecar's admin port shows (their labels), one per line. */
async function waitingSeries(adminPort: number): Promise<string[]> {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('gatehouse_config_waiting{'))
    .map((l) => l.replace('gatehouse_config_waiting', ''));
}

async function servedFingerprint(host = '127.0.0.1'): Promise<string> {
  return new Promise((resolvePeer, reject) => {
    const socket = connect({ host, port: operator.deliveryPort, rejectUnauthorized: false }, () => {
      resolvePeer(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

const secretData = async (): Promise<Record<string, string>> => {
  const secret = await admin.get(SECRETS, SYSTEM, 'gatehouse-operator-tls');
  return secret ? secretStrings(secret) : {};
};

beforeAll(async () => {
  cluster = await startControlPlane({ audit: true });
  admin = new KubeClient(cluster.connection(), { fieldManager: 'test-user' });
  await run(QUICKSTART.crds);
  await waitForCrds(cluster);
  await run(QUICKSTART.install);

  // The operator as the chart runs it: its Deployment's args and injection ConfigMap, its
  // ServiceAccount (impersonated), and its listeners on ephemeral ports.
  const deployment = JSON.parse(
    await cluster.kubectl(['get', 'deployment', 'gatehouse-operator', '-n', SYSTEM, '-o', 'json']),
  ) as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
  const [, ...chartArgs] = (deployment.spec.template.spec.containers[0]?.args ?? []).map((arg) =>
    /^--(admin-)?listen=/.test(arg) ? arg.replace(/[0-9]+$/, '0') : arg,
  );
  const configMap = JSON.parse(
    await cluster.kubectl(['get', 'configmap', 'gatehouse-injection', '-n', SYSTEM, '-o', 'json']),
  ) as { data: Record<string, string> };
  writeFileSync(join(dir, 'injection.yaml'), configMap.data['injection.yaml'] ?? '');
  kubeconfigWithUser(join(dir, 'kubeconfig'), cluster, {
    token: cluster.admin.token,
    as: SERVICE_ACCOUNT,
    'as-groups': ['system:serviceaccounts', `system:serviceaccounts:${SYSTEM}`],
  });
  operator = await startOperatorProcess(
    [
      ...chartArgs,
      `--kubeconfig=${join(dir, 'kubeconfig')}`,
      `--injection-config=${join(dir, 'injection.yaml')}`,
      '--tls-hosts=127.0.0.1',
      // Short lifetimes, so the test sees the certificate renewed.
      '--tls-cert-validity=40s',
      '--tls-cert-renew-before=25s',
      '--tls-ca-validity=1h',
    ],
    { POD_NAMESPACE: SYSTEM, POD_NAME: 'gatehouse-operator-e2e' },
  );
  // The API server cannot reach a Service here: point the webhook at the local operator.
  await cluster.kubectl([
    'patch',
    'mutatingwebhookconfiguration',
    WEBHOOK,
    '--type=json',
    `-p=${JSON.stringify([
      { op: 'remove', path: '/webhooks/0/clientConfig/service' },
      {
        op: 'add',
        path: '/webhooks/0/clientConfig/url',
        value: `https://127.0.0.1:${operator.deliveryPort}/v1/inject`,
      },
    ])}`,
  ]);

  upstream = createServer((req, res) => res.end(`app saw ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  await run(QUICKSTART.example);
}, 120_000);

afterAll(async () => {
  await sidecar?.stop();
  await operator?.stop();
  upstream?.close();
  await cluster?.stop();
});

describe('cluster quickstart: helm install, CRDs, annotate a Deployment', () => {
  it('the operator issues its certificate and puts its CA bundle on the webhook', async () => {
    await operator.waitForLine((l) => l.type === 'injection_enabled' && l.nativeSidecar === true);
    const bundle = await eventually(async () => (await secretData())['ca-bundle.crt'], 10_000, 'TLS Secret');
    const caBundle = await eventually(
      async () => {
        const config = await admin.get(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, WEBHOOK);
        return (config?.webhooks as { clientConfig: { caBundle?: string } }[] | undefined)?.[0]?.clientConfig
          .caBundle;
      },
      10_000,
      'caBundle on the webhook',
    );
    expect(Buffer.from(caBundle, 'base64').toString()).toBe(bundle);
    const served = new X509Certificate((await secretData())['tls.crt'] ?? '');
    expect(served.checkIssued(new X509Certificate(bundle))).toBe(true);
    expect(served.subjectAltName).toContain(`DNS:gatehouse-operator.${SYSTEM}.svc`);
    // The chart's listeners take every address: in an IPv6 cluster the API server and the
    // sidecars reach the operator, and the kubelet its probes, on the pod's IPv6 address.
    expect(await servedFingerprint('::1')).toBe(served.fingerprint256);
    const probe = await request(`http://[::1]:${operator.adminPort}/healthz`);
    expect(probe.statusCode).toBe(200);
    await probe.body.dump();
  });

  it('annotating the Deployment labels its pod template', async () => {
    await run(QUICKSTART.optIn);
    const labels = await eventually(
      async () => {
        const l = await templateLabels();
        return l['gatehouse.dev/inject'] === 'true' ? l : undefined;
      },
      10_000,
      'pod template labelled',
    );
    expect(labels).toEqual({
      app: 'storefront',
      'gatehouse.dev/inject': 'true',
      'gatehouse.dev/application': 'storefront',
    });
    const deployment = await admin.get(DEPLOYMENTS, NS, 'storefront');
    const managers = (
      deployment?.metadata as unknown as
        | { managedFields?: { manager: string; operation: string }[] }
        | undefined
    )?.managedFields;
    expect(managers).toContainEqual(
      expect.objectContaining({ manager: 'gatehouse-injection', operation: 'Apply' }),
    );
  });

  it('a pod of that Deployment is stored with the sidecar, the token volume and renamed ports', async () => {
    injected = await podFromTemplate();
    const sidecarContainer = sidecarOf(injected) as ContainerLike;
    expect(injected.spec?.initContainers?.[0]?.name).toBe('gatehouse');
    expect(sidecarContainer.restartPolicy).toBe('Always');
    expect(injected.metadata?.annotations?.['gatehouse.dev/injected']).toBe('true');

    const web = injected.spec?.containers?.find((c) => c.name === 'web') as ContainerLike;
    expect(web.ports?.map((p) => [p.name, p.containerPort])).toEqual([['app-http', 8080]]);
    expect(sidecarContainer.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['http', 4180],
      ['gatehouse-admin', 9180],
    ]);
    // The Service targets "http", which is now the sidecar's port.
    const service = JSON.parse(
      await cluster.kubectl(['get', 'service', 'storefront', '-n', NS, '-o', 'json']),
    ) as {
      spec: { ports: { targetPort: string }[] };
    };
    expect(service.spec.ports[0]?.targetPort).toBe('http');
    // The kubelet's probe still reaches the app directly.
    expect(web.readinessProbe?.httpGet?.port).toBe(8080);

    const volume = injected.spec?.volumes?.find((v) => v.name === 'gatehouse-token');
    expect(volume?.projected).toMatchObject({
      sources: [{ serviceAccountToken: { audience: 'gatehouse', path: 'token' } }],
    });
    const mounts = containers(injected).filter((c) =>
      ((c.volumeMounts as { name: string }[] | undefined) ?? []).some((m) => m.name === 'gatehouse-token'),
    );
    expect(mounts.map((c) => c.name)).toEqual(['gatehouse']);
    expect(sidecarContainer.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(sidecarContainer.resources).toEqual({
      requests: { cpu: '50m', memory: '96Mi' },
      limits: { memory: '512Mi' },
    });
  });

  it('the injected sidecar, run with its injected args, gets its config from the operator and enforces it', async () => {
    const container = sidecarOf(injected) as ContainerLike & {
      args: string[];
      env: { name: string; value: string }[];
    };
    const podName = injected.metadata?.name ?? '';
    writeFileSync(join(dir, 'token'), await cluster.podToken(NS, 'storefront', podName));
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    const [command, ...args] = container.args;
    expect(command).toBe('sidecar');
    // What only a real pod has: the Service DNS name, the token path, the state volume, the app
    // on 127.0.0.1:8080.
    sidecar = await startSidecarProcess(
      { sourceArgs: args },
      [
        '--operator-url',
        `https://127.0.0.1:${operator.deliveryPort}`,
        '--token-file',
        join(dir, 'token'),
        '--session-ends-file',
        join(dir, 'session-ends.jsonl'),
        '--upstream-address',
        `127.0.0.1:${(upstream.address() as { port: number }).port}`,
      ],
      env,
    );
    const get = async (path: string) => {
      const response = await request(`http://127.0.0.1:${sidecar?.port}${path}`, {
        headers: { host: 'storefront.example.com' },
      });
      return { status: response.statusCode, body: await response.body.text() };
    };
    expect(await get('/status')).toEqual({ status: 200, body: 'app saw /status' });
    expect((await get('/orders')).status).toBe(403);
    const line = await sidecar.waitForLine((l) => l.uri === '/orders');
    expect(line.decision).toMatchObject({ action: 'deny' });
    const ready = await admin.get(ACCESS_APPLICATIONS, NS, 'storefront');
    expect(
      (ready?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions,
    ).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
  });

  it('a sign-out the injected sidecar reports, with its pod token, becomes an AccessRevocation of its application', async () => {
    const container = sidecarOf(injected) as ContainerLike & { env: { name: string; value: string }[] };
    const ca = container.env.find((e) => e.name === 'GATEHOUSE_OPERATOR_CA')?.value ?? '';
    const dispatcher = new Agent({ connect: { ca } });
    const end = {
      session: 'AAAAAAAAAAAAAAAAAAAAAA',
      before: Math.floor(Date.now() / 1000),
      reason: 'signed out',
    };
    const post = async () => {
      const response = await request(`https://127.0.0.1:${operator.deliveryPort}/v1/session-ends`, {
        method: 'POST',
        dispatcher,
        headers: {
          authorization: `Bearer ${readFileSync(join(dir, 'token'), 'utf8')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(end),
      });
      return { status: response.statusCode, ...((await response.body.json()) as { revocation: string }) };
    };
    try {
      // Sent twice at once (a sidecar whose answer was lost sends it again): one AccessRevocation,
      // named after the end and its application, is the answer to both.
      const [answer, again] = await Promise.all([post(), post()]);
      expect(answer.status).toBe(201);
      expect(again).toEqual(answer);
      expect(answer.revocation).toBe(sessionEndRevocationName(end, `${NS}/storefront`));
      const recorded = await operator.waitForLine((l) => l.type === 'session_end_recorded');
      expect(recorded).toMatchObject({
        app: `${NS}/storefront`,
        revocation: answer.revocation,
        reason: 'signed out',
      });
      // storefront signs nobody in, so no session it names can be alive: the operator deletes it at once.
      await eventually(
        async () => (await admin.get(ACCESS_REVOCATIONS, undefined, answer.revocation)) === undefined,
        10_000,
        'the revocation deleted',
      );
    } finally {
      await dispatcher.close();
    }
  });

  it('a pod whose AccessApplication does not exist yet: its sidecar says why it waits, and serves once the application and its Secret exist', async () => {
    // A platform team's first week: the pod is labelled for an application not applied yet, then
    // applied with a client Secret that is still missing.
    const pod = await admin.create<PodLike>(PODS, NS, {
      metadata: {
        name: 'catalog-0',
        namespace: NS,
        labels: { app: 'catalog', 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'catalog' },
      },
      spec: {
        serviceAccountName: 'storefront',
        containers: [
          {
            name: 'web',
            image: 'registry.example/catalog:1',
            ports: [{ name: 'http', containerPort: 8080 }],
          },
        ],
      },
    });
    const container = sidecarOf(pod) as ContainerLike & {
      args: string[];
      env: { name: string; value: string }[];
    };
    writeFileSync(join(dir, 'catalog-token'), await cluster.podToken(NS, 'storefront', 'catalog-0'));
    const [, ...args] = container.args;
    // Not ready before its first config: started up to its first line about the wait.
    const adminPort = await freePort();
    const waiting = await startLoggingProcess({
      name: 'sidecar',
      argv: [
        GATEHOUSE_BIN,
        'sidecar',
        ...args,
        '--operator-url',
        `https://127.0.0.1:${operator.deliveryPort}`,
        '--token-file',
        join(dir, 'catalog-token'),
        '--session-ends-file',
        join(dir, 'catalog-ends.jsonl'),
        '--upstream-address',
        `127.0.0.1:${(upstream.address() as { port: number }).port}`,
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
      ],
      startedType: 'config_waiting',
      env: Object.fromEntries(container.env.map((e) => [e.name, e.value])),
    });
    try {
      const notFound = waiting.started;
      expect(notFound).toMatchObject({ app: 'catalog', reason: 'ApplicationNotFound', serving: false });
      expect(notFound.message).toContain('no AccessApplication catalog in namespace shop');
      // And in its metrics, for the alert that names the reason.
      expect(await waitingSeries(adminPort)).toEqual(['{reason="ApplicationNotFound",serving="false"} 1']);
      await admin.create(ACCESS_APPLICATIONS, NS, {
        metadata: { name: 'catalog', namespace: NS },
        spec: {
          hosts: ['catalog.example.com'],
          upstream: { url: 'http://catalog.shop.svc:8080' },
          policies: [{ name: 'status-page' }],
          authentication: {
            externalUrl: 'https://catalog.example.com',
            identityProviders: [
              {
                name: 'corp',
                issuer: 'https://login.example.com/',
                clientId: 'catalog',
                clientSecretRef: { name: 'catalog-oidc', key: 'client-secret' },
              },
            ],
          },
        },
      });
      const missing = await waiting.waitForLine(
        (l) => l.type === 'config_waiting' && l.reason === 'ProviderSecretMissing',
        10_000,
      );
      expect(missing.message).toContain('catalog-oidc');
      expect(await waitingSeries(adminPort)).toEqual(['{reason="ProviderSecretMissing",serving="false"} 1']);
      expect(waiting.lines.some((l) => l.type === 'config_loaded')).toBe(false);
      await admin.create(SECRETS, NS, {
        metadata: { name: 'catalog-oidc', namespace: NS },
        stringData: { 'client-secret': 'not-a-real-secret' },
      });
      const started = await waiting.waitForLine((l) => l.type === 'sidecar_started', 10_000);
      const status = await request(`http://${String(started.listen)}/status`, {
        headers: { host: 'catalog.example.com' },
      });
      expect(status.statusCode).toBe(200);
      await status.body.dump();
      expect(await waitingSeries(adminPort)).toEqual([]);
      // Each reason was said once, in the order it came.
      expect(waiting.lines.filter((l) => l.type === 'config_waiting').map((l) => l.reason)).toEqual([
        'ApplicationNotFound',
        'ProviderSecretMissing',
      ]);
      // And on the Pod, where `kubectl describe pod` shows it: each reason, then the config.
      const podEvents = async () =>
        (
          await admin.list(EVENTS, {
            namespace: NS,
            fieldSelector: `involvedObject.uid=${pod.metadata?.uid}`,
          })
        ).items.map((e) => {
          const event = e as KubeObject & { type?: string; reason?: string; message?: string };
          return { type: event.type, reason: event.reason, message: event.message };
        });
      const told = await eventually(
        async () => {
          const events = await podEvents();
          return events.some((e) => e.reason === 'SidecarConfigured') ? events : undefined;
        },
        5_000,
        'the Events on the pod',
      );
      // (listed in the order of their generated names, not of their times)
      expect(told).toHaveLength(3);
      expect(told).toEqual(
        expect.arrayContaining([
          {
            type: 'Warning',
            reason: 'ApplicationNotFound',
            message: expect.stringContaining(
              'The gatehouse sidecar has no config yet: no AccessApplication catalog',
            ),
          },
          {
            type: 'Warning',
            reason: 'ProviderSecretMissing',
            message: expect.stringContaining('catalog-oidc'),
          },
          { type: 'Normal', reason: 'SidecarConfigured', message: 'The gatehouse sidecar has its config.' },
        ]),
      );
      // The application deleted: the sidecar keeps its last config, and the pod says so.
      await admin.delete(ACCESS_APPLICATIONS, NS, 'catalog');
      const gone = await waiting.waitForLine(
        (l) => l.type === 'config_waiting' && l.reason === 'ApplicationNotFound' && l.serving === true,
        10_000,
      );
      expect(gone.message).toContain('no AccessApplication catalog');
      expect(await waitingSeries(adminPort)).toEqual(['{reason="ApplicationNotFound",serving="true"} 1']);
      const deleted = await eventually(
        async () => (await podEvents()).find((e) => e.message?.includes('keeps serving')),
        5_000,
        'the Event of the deleted application',
      );
      expect(deleted).toEqual({
        type: 'Warning',
        reason: 'ApplicationNotFound',
        message: expect.stringContaining(
          'The gatehouse sidecar keeps serving its last config: no AccessApplication catalog',
        ),
      });
    } finally {
      await waiting.stop();
    }
  });

  it('re-injecting an injected pod changes nothing', async () => {
    const skippedBefore = await metric('gatehouse_operator_injections_total{result="skipped"}');
    const again = await admin.create<PodLike>(PODS, NS, {
      metadata: {
        generateName: 'storefront-',
        namespace: NS,
        labels: injected.metadata?.labels,
        annotations: injected.metadata?.annotations,
      },
      spec: injected.spec,
    });
    expect(again.spec?.initContainers).toEqual(injected.spec?.initContainers);
    expect(again.spec?.containers).toEqual(injected.spec?.containers);
    expect(again.spec?.volumes).toEqual(injected.spec?.volumes);
    expect(await metric('gatehouse_operator_injections_total{result="skipped"}')).toBe(skippedBefore + 1);
  });

  it('a pod without the label is stored unchanged (the webhook is not even called)', async () => {
    const calls = async () =>
      (await metric('gatehouse_operator_injections_total{result="injected"}')) +
      (await metric('gatehouse_operator_injections_total{result="skipped"}'));
    const before = await calls();
    const pod = await admin.create<PodLike>(PODS, NS, {
      metadata: { name: 'plain', namespace: NS, labels: { app: 'plain' } },
      spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
    });
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.spec?.containers?.map((c) => [c.name, c.ports?.[0]?.name])).toEqual([['web', 'http']]);
    expect(pod.metadata?.annotations?.['gatehouse.dev/injected']).toBeUndefined();
    expect(await calls()).toBe(before);
  });

  it('a labelled pod in kube-system is untouched', async () => {
    const pod = await admin.create<PodLike>(PODS, 'kube-system', {
      metadata: {
        name: 'labelled',
        namespace: 'kube-system',
        labels: { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'storefront' },
      },
      spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
    });
    expect(containers(pod).map((c) => c.name)).toEqual(['web']);
    expect(pod.spec?.volumes ?? []).toEqual([]);
  });

  it('a labelled pod that cannot be injected is refused with the reason, not started without the gateway', async () => {
    await expect(
      admin.create(PODS, NS, {
        metadata: {
          name: 'no-ports',
          namespace: NS,
          labels: { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'storefront' },
        },
        spec: { containers: [{ name: 'worker', image: 'busybox' }] },
      }),
    ).rejects.toThrow(/gatehouse: no container port to put the sidecar in front of/);
    expect(await admin.get(PODS, NS, 'no-ports')).toBeUndefined();
  });

  it('renews its serving certificate before expiry; the webhook keeps working under the same CA', async () => {
    const first = await secretData();
    const renewed = await eventually(
      async () => {
        const now = await secretData();
        return now['tls.crt'] !== first['tls.crt'] ? now : undefined;
      },
      30_000,
      'certificate renewed',
    );
    expect(renewed['ca-bundle.crt']).toBe(first['ca-bundle.crt']);
    expect(new X509Certificate(first['tls.crt'] ?? '').validToDate.getTime()).toBeGreaterThan(Date.now());
    const expected = new X509Certificate(renewed['tls.crt'] ?? '').fingerprint256;
    await eventually(
      async () => (await servedFingerprint()) === expected,
      5_000,
      'renewed certificate served',
    );
    const pod = await podFromTemplate();
    expect(sidecarOf(pod)).toBeDefined();
    const logged = await operator.waitForLine(
      (l) => l.type === 'tls_secret_written' && (l.changes as string[]).includes('cert_renewed'),
    );
    expect(logged.secret).toBe(`${SYSTEM}/gatehouse-operator-tls`);
  }, 45_000);

  it('removing the annotation removes the label, and the next pods come without the sidecar', async () => {
    await run(QUICKSTART.optOut);
    await eventually(
      async () => (await templateLabels())['gatehouse.dev/inject'] === undefined,
      10_000,
      'label removed',
    );
    expect(await templateLabels()).toEqual({ app: 'storefront' });
    const pod = await podFromTemplate();
    expect(containers(pod).map((c) => c.name)).toEqual(['web']);
    expect(pod.spec?.containers?.[0]?.ports?.[0]?.name).toBe('http');
  });

  it('enforces and expires AccessRevocations', async () => {
    await cluster.kubectl(
      ['apply', '-f', '-'],
      `${stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'sso', namespace: NS },
        stringData: { 'client-secret': 'intranet-secret' },
      })}---\n${stringify({
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessApplication',
        metadata: { name: 'intranet', namespace: NS },
        spec: {
          hosts: ['intranet.example.com'],
          upstream: { url: 'http://127.0.0.1:8080' },
          policies: [{ name: 'office-network' }],
          authentication: {
            identityProviders: [
              {
                name: 'corp',
                issuer: 'https://login.example.com',
                clientId: 'intranet',
                clientSecretRef: { name: 'sso', key: 'client-secret' },
              },
            ],
            externalUrl: 'https://intranet.example.com',
          },
        },
      })}`,
    );
    const revoke = (extra: string[]) =>
      runGatehouse(['revoke', '--user', 'alice@example.com', '--kubeconfig', cluster.kubeconfig, ...extra]);
    const enforced = await revoke(['--app', `${NS}/intranet`, '--reason', 'stolen laptop']);
    expect(enforced.stderr).toBe('');
    expect(enforced.stdout).toContain(`are ended in 1 application: ${NS}/intranet.`);
    // A cut-off long past: no session it covers can be alive, so the operator deletes it.
    const past = await revoke(['--before', '2020-01-01T00:00:00Z', '--format', 'name']);
    const name = past.stdout.trim().split('/')[1] ?? '';
    expect(name).toMatch(/^alice-example-com-/);
    await eventually(
      async () => !(await cluster.kubectl(['get', 'accessrevocations', '-o', 'name'])).includes(name),
      10_000,
      'expired revocation deleted',
    );
  });

  it("ran under the chart's ServiceAccount with zero forbidden errors, using every verb the chart grants", async () => {
    await sidecar?.stop();
    sidecar = undefined;
    expect(await operator.stop()).toBe(0);
    const events = cluster
      .auditEvents()
      .filter((e) => (e.impersonatedUser?.username ?? e.user.username) === SERVICE_ACCOUNT);
    expect(events.length).toBeGreaterThan(20);
    const forbidden = events.filter((e) => e.responseStatus?.code === 403);
    expect(forbidden.map((e) => `${e.verb} ${e.objectRef?.resource}`)).toEqual([]);
    const used = new Set(
      events
        .filter((e) => e.objectRef?.resource)
        .map((e) => {
          const ref = e.objectRef ?? {};
          return `${ref.apiGroup ?? ''}/${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}:${e.verb}`;
        }),
    );
    const granted = [...OPERATOR_RULES, ...OPERATOR_NAMESPACE_RULES].flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}:${verb}`)),
      ),
    );
    expect(granted.filter((g) => !used.has(g))).toEqual([]);
    expect(operator.lines.filter((l) => JSON.stringify(l).includes('forbidden'))).toEqual([]);
  });
});

describe('README', () => {
  it('gives exactly the quickstart commands this test runs', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    for (const command of Object.values(QUICKSTART)) expect(readme).toContain(`\n${command}\n`);
  });
});
