import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { PODS } from '../../lib/kube/resource-types.ts';
import { type InjectionContext, injectPod } from '../../operator/src/injection/inject-pod.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import type { ContainerLike, PodLike } from '../../operator/src/injection/pod-shape.ts';
import { type ControlPlane, startControlPlane } from '../helpers/control-plane.ts';

// Every pod shape the webhook produces, in both sidecar modes, must be one the API server stores,
// including in a namespace that enforces the "restricted" Pod Security Standard. The webhook's own
// path (AdmissionReview through the API server) is covered by injection.test.ts; this file covers
// the shapes, and the regular-container mode that API server (≥ 1.29) would never choose itself.

const NS = 'restricted-apps';
let cluster: ControlPlane;
let client: KubeClient;

const settings = parseInjectionSettings(
  {
    image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
    operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
  },
  'test',
);
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

const restricted = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const appContainer = (name: string, ports: ContainerLike['ports']): ContainerLike => ({
  name,
  image: 'registry.example/app:1',
  ports,
  securityContext: restricted,
});

/** Pod shapes: what users' Deployments look like, each restricted-compliant before injection. */
const SHAPES: Record<string, () => PodLike> = {
  'a named http port with probes and a preStop hook on it': () => ({
    metadata: { generateName: 'web-', labels: {} },
    spec: {
      containers: [
        {
          ...appContainer('web', [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
          ]),
          readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
          livenessProbe: { tcpSocket: { port: 'http' } },
          lifecycle: { preStop: { httpGet: { path: '/drain', port: 'http' } } },
        },
      ],
    },
  }),
  'an only, unnamed port': () => ({
    metadata: { generateName: 'plain-', labels: {} },
    spec: { containers: [appContainer('plain', [{ containerPort: 3000 }])] },
  }),
  'an annotated port on the second container, after an init container': () => ({
    metadata: {
      generateName: 'multi-',
      labels: {},
      annotations: { 'gatehouse.dev/port': 'ui' },
    },
    spec: {
      initContainers: [{ name: 'migrate', image: 'registry.example/migrate:1', securityContext: restricted }],
      containers: [
        appContainer('worker', [{ name: 'grpc', containerPort: 9000, protocol: 'TCP' }]),
        appContainer('frontend', [{ name: 'ui', containerPort: 8081, protocol: 'TCP' }]),
      ],
    },
  }),
};

function labelled(shape: () => PodLike): PodLike {
  const pod = shape();
  pod.metadata = {
    ...pod.metadata,
    namespace: NS,
    labels: {
      ...pod.metadata?.labels,
      'gatehouse.dev/inject': 'true',
      'gatehouse.dev/application': 'storefront',
    },
  };
  return pod;
}

function inject(pod: PodLike, nativeSidecar: boolean): PodLike {
  const context: InjectionContext = { settings, caBundle: CA, nativeSidecar };
  const result = injectPod(pod, context);
  if (result.kind !== 'injected') throw new Error(`expected injection, got ${JSON.stringify(result)}`);
  return result.pod;
}

async function refusal(pod: PodLike): Promise<string> {
  try {
    await client.create(PODS, NS, pod);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the API server stored the pod');
}

beforeAll(async () => {
  cluster = await startControlPlane();
  client = new KubeClient(cluster.connection(), { fieldManager: 'test-user' });
  await cluster.kubectl(['create', 'namespace', NS]);
  await cluster.kubectl([
    'label',
    'namespace',
    NS,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/enforce-version=latest',
  ]);
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('injected pods on a real API server, in a namespace enforcing the restricted Pod Security Standard', () => {
  it('the namespace really enforces it: an injected pod whose sidecar lost its securityContext is refused', async () => {
    const pod = inject(labelled(SHAPES['an only, unnamed port'] as () => PodLike), true);
    const sidecar = pod.spec?.initContainers?.find((c) => c.name === 'gatehouse') as ContainerLike;
    delete sidecar.securityContext;
    expect(await refusal(pod)).toMatch(/violates PodSecurity "restricted:latest".*"gatehouse"/s);
  });

  for (const [shapeName, shape] of Object.entries(SHAPES)) {
    for (const native of [true, false]) {
      const mode = native ? 'native sidecar' : 'regular container';
      it(`stores ${shapeName}, injected as a ${mode}`, async () => {
        const pod = inject(labelled(shape), native);
        const stored = (await client.create(PODS, NS, pod)) as PodLike;
        const spec = stored.spec ?? {};
        const sidecarIn = native ? spec.initContainers : spec.containers;
        const sidecar = sidecarIn?.find((c) => c.name === 'gatehouse');
        expect(sidecar, `gatehouse in ${native ? 'initContainers' : 'containers'}`).toBeDefined();
        if (native) {
          expect(spec.initContainers?.[0]?.name).toBe('gatehouse');
          expect(sidecar?.restartPolicy).toBe('Always');
          expect(spec.containers?.some((c) => c.name === 'gatehouse')).toBe(false);
        } else {
          expect(sidecar?.restartPolicy).toBeUndefined();
          expect(spec.initContainers?.some((c) => c.name === 'gatehouse') ?? false).toBe(false);
        }
        // What the API server stored is what the webhook built: nothing was dropped or defaulted away.
        const built = (native ? pod.spec?.initContainers : pod.spec?.containers)?.find(
          (c) => c.name === 'gatehouse',
        );
        expect(sidecar).toMatchObject(built as object);
        expect(spec.volumes).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              name: 'gatehouse-token',
              projected: expect.objectContaining({
                sources: [
                  { serviceAccountToken: { audience: 'gatehouse', expirationSeconds: 3600, path: 'token' } },
                ],
              }),
            }),
          ]),
        );
        // Only the sidecar mounts the token.
        const mounts = [...(spec.initContainers ?? []), ...(spec.containers ?? [])]
          .filter((c) =>
            (c.volumeMounts as { name: string }[] | undefined)?.some((m) => m.name === 'gatehouse-token'),
          )
          .map((c) => c.name);
        expect(mounts).toEqual(['gatehouse']);
      });
    }
  }
});

describe('the command docs/operator.md gives to list the sidecar images of injected pods', () => {
  it('names each stored pod\u2019s sidecar image, native or regular', async () => {
    const docs = readFileSync(new URL('../../docs/operator.md', import.meta.url), 'utf8');
    const command = /^kubectl get pods -A -l gatehouse\.dev\/inject=true -o (custom-columns=.*)$/m.exec(
      docs,
    )?.[1];
    expect(command).toBeDefined();
    const columns = (command as string).replace(/^custom-columns='/, 'custom-columns=').replace(/'$/, '');
    const table = await cluster.kubectl([
      'get',
      'pods',
      '-n',
      NS,
      '-l',
      'gatehouse.dev/inject=true',
      '-o',
      columns,
    ]);
    const rows = table
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const [, , native, regular] of rows) {
      expect([native, regular].filter((image) => image !== '<none>')).toEqual([settings.image]);
    }
  });
});

describe('a sidecar that names no UID (the platform chooses, as OpenShift does)', () => {
  it('is stored in the namespace enforcing the restricted standard: runAsNonRoot is enough', async () => {
    const platform = parseInjectionSettings(
      {
        image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
        operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
        runAsUser: null,
      },
      'test',
    );
    const result = injectPod(labelled(SHAPES['an only, unnamed port'] as () => PodLike), {
      settings: platform,
      caBundle: CA,
      nativeSidecar: true,
    });
    if (result.kind !== 'injected') throw new Error(JSON.stringify(result));
    const stored = (await client.create(PODS, NS, result.pod)) as PodLike;
    const sidecar = stored.spec?.initContainers?.find((c) => c.name === 'gatehouse');
    expect(sidecar?.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(sidecar?.securityContext).not.toHaveProperty('runAsUser');
  });
});

describe('a pod whose taken port has a hostPort, on a real API server', () => {
  const HOST_NS = 'host-ports';

  it('is stored with the node\u2019s port on the sidecar and none left on the app', async () => {
    await cluster.kubectl(['create', 'namespace', HOST_NS]);
    const pod = labelled(() => ({
      metadata: { generateName: 'edge-', labels: {} },
      spec: {
        containers: [
          appContainer('edge', [
            { name: 'http', containerPort: 8080, protocol: 'TCP', hostPort: 8080 },
            { name: 'metrics', containerPort: 9100, protocol: 'TCP', hostPort: 9100 },
          ]),
        ],
      },
    }));
    if (pod.metadata) pod.metadata.namespace = HOST_NS;
    const stored = (await client.create(PODS, HOST_NS, inject(pod, true))) as PodLike;
    const sidecar = stored.spec?.initContainers?.find((c) => c.name === 'gatehouse');
    expect(sidecar?.ports?.[0]).toEqual({
      name: 'http',
      containerPort: 4180,
      protocol: 'TCP',
      hostPort: 8080,
    });
    expect(stored.spec?.containers?.[0]?.ports).toEqual([
      { name: 'app-http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9100, protocol: 'TCP', hostPort: 9100 },
    ]);
  });
});
