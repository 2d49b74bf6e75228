import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contract/errors.ts';
import {
  SIDECAR_MALLOC_MMAP_THRESHOLD,
  SIDECAR_MALLOC_TRIM_THRESHOLD,
  SIDECAR_NODE_OPTIONS,
} from '../../contract/sidecar-node-options.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { admit } from '../../operator/src/injection/admission-webhook.ts';
import { optInApplyBody, planDeploymentOptIn } from '../../operator/src/injection/deployment-opt-in.ts';
import { type InjectionContext, injectPod } from '../../operator/src/injection/inject-pod.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import type { ContainerLike, PodLike } from '../../operator/src/injection/pod-shape.ts';
import { podPatch } from '../../operator/src/injection/pod-shape.ts';
import { caBundleApply } from '../../operator/src/injection/webhook-ca-bundle.ts';
import { createOperatorMetrics } from '../../operator/src/operator-metrics.ts';

const settings = parseInjectionSettings(
  {
    image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
    operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
  },
  'test',
);
const context: InjectionContext = { settings, caBundle: 'PEM', nativeSidecar: true };

/** A pod with one app container serving http on 8080, with probes on the named port. */
function pod(change: (p: PodLike) => void = () => undefined): PodLike {
  const p: PodLike = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-',
      namespace: 'shop',
      labels: { app: 'web', 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'storefront' },
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx',
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
          ],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
          livenessProbe: { tcpSocket: { port: 'http' } },
          startupProbe: { httpGet: { path: '/metrics', port: 'metrics' } },
          lifecycle: { preStop: { httpGet: { path: '/drain', port: 'http' } } },
        },
      ],
    },
  };
  change(p);
  return p;
}

const injected = (p: PodLike, ctx = context) => {
  const result = injectPod(p, ctx);
  if (result.kind !== 'injected') throw new Error(`expected injection, got ${JSON.stringify(result)}`);
  return result;
};
const app = (p: PodLike): ContainerLike => p.spec?.containers?.[0] as ContainerLike;
const sidecarOf = (p: PodLike): ContainerLike | undefined =>
  [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].find((c) => c.name === 'gatehouse');

describe('injectPod', () => {
  const { pod: out, warnings } = injected(pod());
  const sidecar = sidecarOf(out) as ContainerLike;

  it('adds the sidecar as a native sidecar (first init container, restartPolicy Always)', () => {
    expect(out.spec?.initContainers?.[0]?.name).toBe('gatehouse');
    expect(sidecar.restartPolicy).toBe('Always');
    expect(out.spec?.containers?.map((c) => c.name)).toEqual(['web']);
    expect(warnings).toEqual([]);
  });

  it('takes over the http port: the sidecar gets the name, the app port is renamed', () => {
    expect(sidecar.ports).toEqual([
      { name: 'http', containerPort: 4180, protocol: 'TCP' },
      { name: 'gatehouse-admin', containerPort: 9180, protocol: 'TCP' },
    ]);
    expect(app(out).ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual([
      'app-http:8080',
      'metrics:9100',
    ]);
    // The app's port, with the scheme of spec.upstream.url (an https app is checked for its own name).
    const args = sidecar.args as string[];
    expect(args[args.indexOf('--upstream-address') + 1]).toBe('127.0.0.1:8080');
    expect(args).not.toContain('--upstream');
    expect((sidecar.args as string[]).slice(0, 7)).toEqual([
      'sidecar',
      '--operator-url',
      'https://gatehouse-operator.gatehouse-system.svc',
      '--token-file',
      '/var/run/secrets/gatehouse/token',
      '--application',
      'storefront',
    ]);
  });

  it('points probes and hooks that named the port at its number; others stay', () => {
    const c = app(out);
    expect(c.readinessProbe?.httpGet?.port).toBe(8080);
    expect(c.livenessProbe?.tcpSocket?.port).toBe(8080);
    expect(c.lifecycle?.preStop?.httpGet?.port).toBe(8080);
    expect(c.startupProbe?.httpGet?.port).toBe('metrics');
  });

  it('mounts the projected token (audience gatehouse) and its state (an emptyDir) only into the sidecar', () => {
    expect(out.spec?.volumes).toEqual([
      {
        name: 'gatehouse-token',
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'gatehouse', expirationSeconds: 3600, path: 'token' } },
          ],
        },
      },
      { name: 'gatehouse-state', emptyDir: { sizeLimit: '32Mi' } },
    ]);
    expect(sidecar.volumeMounts).toEqual([
      { name: 'gatehouse-token', mountPath: '/var/run/secrets/gatehouse', readOnly: true },
      { name: 'gatehouse-state', mountPath: '/var/run/gatehouse' },
    ]);
    expect(app(out).volumeMounts).toBeUndefined();
    // Its session ends outlive a restart of the container, in the pod's emptyDir.
    const args = (sidecar.args ?? []) as string[];
    expect(args[args.indexOf('--session-ends-file') + 1]).toBe('/var/run/gatehouse/session-ends.jsonl');
  });

  it('refuses a pod that has a volume named as one of the sidecar', () => {
    for (const name of ['gatehouse-token', 'gatehouse-state']) {
      const result = injectPod(
        pod((p) => {
          if (p.spec) p.spec.volumes = [{ name, emptyDir: {} }];
        }),
        context,
      );
      expect(result).toMatchObject({ kind: 'refused', code: 'name_conflict' });
      expect(result.kind === 'refused' && result.message).toContain(name);
    }
  });

  it('runs the sidecar restricted, with resources, probes and the CA bundle', () => {
    expect(sidecar.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(sidecar.resources).toEqual({
      requests: { cpu: '50m', memory: '96Mi' },
      limits: { memory: '512Mi' },
    });
    expect(sidecar.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 9180 } });
    expect(sidecar.env).toEqual([
      { name: 'GATEHOUSE_OPERATOR_CA', value: 'PEM' },
      { name: 'NODE_OPTIONS', value: SIDECAR_NODE_OPTIONS }, // the sidecar's memory bound depends on it
      { name: 'MALLOC_TRIM_THRESHOLD_', value: SIDECAR_MALLOC_TRIM_THRESHOLD }, // freed pages go back
      { name: 'MALLOC_MMAP_THRESHOLD_', value: SIDECAR_MALLOC_MMAP_THRESHOLD }, // and freed blocks of 32 KiB
    ]);
  });

  it('gives the sidecar the egress proxy of the settings as HTTPS_PROXY, HTTP_PROXY and NO_PROXY', () => {
    const proxied: InjectionContext = {
      ...context,
      settings: parseInjectionSettings(
        {
          image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
          operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
          egressProxy: { httpsProxy: 'http://proxy.corp:3128', noProxy: '.corp.example,10.0.0.0/8' },
        },
        'test',
      ),
    };
    const envOf = (p: PodLike) => (sidecarOf(p)?.env ?? []) as { name: string; value: string }[];
    const env = envOf(injected(pod(), proxied).pod);
    expect(env.slice(-2)).toEqual([
      { name: 'HTTPS_PROXY', value: 'http://proxy.corp:3128' },
      { name: 'NO_PROXY', value: '.corp.example,10.0.0.0/8' },
    ]);
    expect(envOf(injected(pod()).pod).map((e) => e.name)).not.toContain('HTTPS_PROXY');
  });

  it.each([
    ['a path', { httpsProxy: 'http://proxy.corp:3128/path' }],
    ['no scheme', { httpsProxy: 'proxy.corp:3128' }],
    ['another scheme', { httpProxy: 'socks5://proxy.corp:1080' }],
    ['spaces in NO_PROXY', { noProxy: '.corp.example, 10.0.0.0/8' }],
    ['an unknown field', { ftpProxy: 'http://p:1' }],
  ])('refuses an egress proxy with %s', (_what, egressProxy) => {
    expect(() =>
      parseInjectionSettings(
        {
          image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
          operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
          egressProxy,
        },
        'injection.yaml',
      ),
    ).toThrow(/egressProxy/);
  });

  it('names no UID when the settings leave it to the platform (OpenShift assigns one and refuses any other)', () => {
    const platform: InjectionContext = {
      ...context,
      settings: parseInjectionSettings(
        {
          image: 'ghcr.io/gatehouse/gatehouse:0.1.0',
          operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
          runAsUser: null,
        },
        'test',
      ),
    };
    const chosen = sidecarOf(injected(pod(), platform).pod)?.securityContext as Record<string, unknown>;
    expect(chosen).not.toHaveProperty('runAsUser');
    expect(chosen).not.toHaveProperty('runAsGroup');
    expect(chosen).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
  });

  it('lists the sidecar\u2019s state volume as safe to evict for the Cluster Autoscaler, after any the pod lists', () => {
    const key = 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes';
    expect(out.metadata?.annotations?.[key]).toBe('gatehouse-state');
    const listed = (value: string) =>
      injected(
        pod((x) => {
          if (x.metadata) x.metadata.annotations = { [key]: value };
        }),
      ).pod.metadata?.annotations?.[key];
    expect(listed('cache, scratch')).toBe('cache,scratch,gatehouse-state');
    expect(listed('gatehouse-state,cache')).toBe('gatehouse-state,cache');
  });

  it('names the default ServiceAccount when the pod names none (the projected token needs one), and keeps a named one', () => {
    expect(out.spec?.serviceAccountName).toBe('default');
    const named = injected(
      pod((x) => {
        if (x.spec) x.spec.serviceAccountName = 'web';
      }),
    ).pod;
    expect(named.spec?.serviceAccountName).toBe('web');
  });

  it('marks the pod, and a second pass changes nothing', () => {
    expect(out.metadata?.annotations?.['gatehouse.dev/injected']).toBe('true');
    expect(injectPod(out, context)).toEqual({ kind: 'skipped', reason: 'already_injected' });
    const withoutMarker: PodLike = { ...out, metadata: { ...out.metadata, annotations: {} } };
    expect(injectPod(withoutMarker, context)).toEqual({ kind: 'skipped', reason: 'already_injected' });
  });

  it('appends a regular container where native sidecars are not supported', () => {
    const regular = injected(pod(), { ...context, nativeSidecar: false }).pod;
    expect(regular.spec?.initContainers).toBeUndefined();
    expect(regular.spec?.containers?.map((c) => c.name)).toEqual(['web', 'gatehouse']);
    expect(sidecarOf(regular)?.restartPolicy).toBeUndefined();
  });

  it('a native sidecar stops accepting at SIGTERM (the application has exited by then); a regular one keeps the default delay; the chart args win', () => {
    const delayOf = (p: PodLike) =>
      ((sidecarOf(p)?.args ?? []) as string[]).filter((a) => a.startsWith('--shutdown-delay'));
    expect(delayOf(injected(pod()).pod)).toEqual(['--shutdown-delay=0s']);
    expect(delayOf(injected(pod(), { ...context, nativeSidecar: false }).pod)).toEqual([]);
    const given = { ...settings, args: ['--shutdown-delay=3s'] };
    expect(delayOf(injected(pod(), { ...context, settings: given }).pod)).toEqual(['--shutdown-delay=3s']);
  });

  it('keeps existing init containers after the native sidecar', () => {
    const p = injected(
      pod((x) => {
        if (x.spec) x.spec.initContainers = [{ name: 'migrate', image: 'tool' }];
      }),
    ).pod;
    expect(p.spec?.initContainers?.map((c) => c.name)).toEqual(['gatehouse', 'migrate']);
  });

  it.each<[string, (p: PodLike) => void, string]>([
    [
      'the port annotation names a port',
      (p) => {
        if (p.metadata) p.metadata.annotations = { 'gatehouse.dev/port': 'metrics' };
      },
      'metrics',
    ],
    [
      'the port annotation gives a number',
      (p) => {
        if (p.metadata) p.metadata.annotations = { 'gatehouse.dev/port': '9100' };
      },
      'metrics',
    ],
    [
      'a single unnamed port is taken',
      (p) => {
        const c = p.spec?.containers?.[0];
        if (c) c.ports = [{ containerPort: 3000 }];
      },
      'gatehouse',
    ],
  ])('chooses the port when %s', (_what, change, sidecarPortName) => {
    const result = injected(pod(change));
    expect(sidecarOf(result.pod)?.ports?.[0]?.name).toBe(sidecarPortName);
    if (sidecarPortName === 'gatehouse') expect(result.warnings[0]).toMatch(/no name.*by number/);
  });

  it('moves a hostPort of the taken port to the sidecar: the node\u2019s port reaches the sidecar, not the app past it', () => {
    const result = injected(
      pod((x) => {
        const http = x.spec?.containers?.[0]?.ports?.[0];
        if (http) Object.assign(http, { hostPort: 80, hostIP: '10.0.0.7' });
        x.spec?.containers?.[0]?.ports?.push({ name: 'debug', containerPort: 6060, hostPort: 6060 });
      }),
    );
    expect(sidecarOf(result.pod)?.ports?.[0]).toEqual({
      name: 'http',
      containerPort: 4180,
      protocol: 'TCP',
      hostPort: 80,
      hostIP: '10.0.0.7',
    });
    expect(app(result.pod).ports).toEqual([
      { name: 'app-http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
      { name: 'debug', containerPort: 6060, hostPort: 6060 },
    ]);
    expect(result.warnings).toEqual([
      'gatehouse: hostPort 80 of port http now reaches the sidecar (4180) instead of the app.',
    ]);
    const unnamed = injected(
      pod((x) => {
        const c = x.spec?.containers?.[0];
        if (c) c.ports = [{ containerPort: 3000, hostPort: 8000 }];
      }),
    );
    expect(app(unnamed.pod).ports).toEqual([{ containerPort: 3000 }]);
    expect(sidecarOf(unnamed.pod)?.ports?.[0]).toEqual({
      name: 'gatehouse',
      containerPort: 4180,
      protocol: 'TCP',
      hostPort: 8000,
    });
  });

  it('adds the sidecar\u2019s pull secrets to the pod, each name once; none when there are none', () => {
    expect(out.spec?.imagePullSecrets).toBeUndefined();
    const withSecrets: InjectionContext = {
      ...context,
      settings: parseInjectionSettings(
        {
          image: 'registry.corp.example/gatehouse:0.1.0',
          operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc',
          imagePullSecrets: [{ name: 'corp-registry' }, { name: 'mirror' }, { name: 'corp-registry' }],
        },
        'test',
      ),
    };
    const p = injected(
      pod((x) => {
        if (x.spec) x.spec.imagePullSecrets = [{ name: 'app-registry' }, { name: 'mirror' }];
      }),
      withSecrets,
    ).pod;
    expect(p.spec?.imagePullSecrets).toEqual([
      { name: 'app-registry' },
      { name: 'mirror' },
      { name: 'corp-registry' },
    ]);
    expect(injected(pod(), withSecrets).pod.spec?.imagePullSecrets).toEqual([
      { name: 'corp-registry' },
      { name: 'mirror' },
    ]);
  });

  it('uses the listen-port annotation', () => {
    const p = injected(
      pod((x) => {
        if (x.metadata) x.metadata.annotations = { 'gatehouse.dev/listen-port': '8181' };
      }),
    ).pod;
    expect(sidecarOf(p)?.ports?.[0]).toEqual({ name: 'http', containerPort: 8181, protocol: 'TCP' });
    expect(sidecarOf(p)?.args).toContain(':8181');
  });

  it.each<[string, (p: PodLike) => void, string]>([
    [
      'no application',
      (p) => {
        delete p.metadata?.labels?.['gatehouse.dev/application'];
      },
      'application_missing',
    ],
    [
      'a malformed application',
      (p) => {
        if (p.metadata?.labels) p.metadata.labels['gatehouse.dev/application'] = 'Not_A_Name';
      },
      'application_invalid',
    ],
    [
      'an annotated port that does not exist',
      (p) => {
        if (p.metadata) p.metadata.annotations = { 'gatehouse.dev/port': 'grpc' };
      },
      'port_not_found',
    ],
    [
      'several ports and none named http',
      (p) => {
        const c = p.spec?.containers?.[0];
        if (c) c.ports = [{ containerPort: 3000 }, { containerPort: 3001 }];
      },
      'port_ambiguous',
    ],
    ['no ports', (p) => delete p.spec?.containers?.[0]?.ports, 'port_not_found'],
    [
      'a UDP port',
      (p) => {
        if (p.metadata) p.metadata.annotations = { 'gatehouse.dev/port': 'dns' };
        p.spec?.containers?.[0]?.ports?.push({ name: 'dns', containerPort: 53, protocol: 'UDP' });
      },
      'port_not_tcp',
    ],
    [
      'the sidecar port already in use',
      (p) => p.spec?.containers?.[0]?.ports?.push({ name: 'other', containerPort: 4180 }),
      'port_conflict',
    ],
    [
      'a bad listen-port annotation',
      (p) => {
        if (p.metadata) p.metadata.annotations = { 'gatehouse.dev/listen-port': '99999' };
      },
      'port_conflict',
    ],
    [
      'the renamed port name taken',
      (p) => p.spec?.containers?.[0]?.ports?.push({ name: 'app-http', containerPort: 7000 }),
      'name_conflict',
    ],
    [
      'hostNetwork (the app\u2019s port would be open on the node past the sidecar)',
      (p) => {
        if (p.spec) p.spec.hostNetwork = true;
      },
      'host_network',
    ],
    [
      'a volume named gatehouse-token',
      (p) => {
        if (p.spec) p.spec.volumes = [{ name: 'gatehouse-token', emptyDir: {} }];
      },
      'name_conflict',
    ],
  ])('refuses a pod with %s', (_what, change, code) => {
    const result = injectPod(pod(change), context);
    expect(result.kind === 'refused' && result.code).toBe(code);
  });

  it('takes the application from an annotation and labels the pod with it', () => {
    const p = injected(
      pod((x) => {
        delete x.metadata?.labels?.['gatehouse.dev/application'];
        if (x.metadata) x.metadata.annotations = { 'gatehouse.dev/application': 'billing' };
      }),
    ).pod;
    expect(p.metadata?.labels?.['gatehouse.dev/application']).toBe('billing');
  });

  it('skips a pod without the inject label', () => {
    const p = pod((x) => {
      delete x.metadata?.labels?.['gatehouse.dev/inject'];
    });
    expect(injectPod(p, context)).toEqual({ kind: 'skipped', reason: 'not_requested' });
  });
});

describe('podPatch', () => {
  it('adds only the fields that changed, and applying it gives the injected pod', () => {
    const before = pod();
    const { pod: after } = injected(before);
    const ops = podPatch(before, after);
    expect(ops.map((o) => o.path)).toEqual([
      '/metadata/annotations',
      '/spec/serviceAccountName',
      '/spec/initContainers',
      '/spec/containers',
      '/spec/volumes',
    ]);
    const applied = structuredClone(before) as Record<string, Record<string, unknown>>;
    for (const op of ops) {
      const [, section = '', field = ''] = op.path.split('/');
      (applied[section] as Record<string, unknown>)[field] = op.value;
    }
    expect(applied).toEqual(after);
    expect(podPatch(after, after)).toEqual([]);
  });
});

describe('admission', () => {
  const metrics = createOperatorMetrics({
    queueDepth: () => 0,
    applicationsByReady: () => ({}),
    podsWithoutSidecar: () => new Map(),
    servicesPastSidecar: () => new Map(),
    appPortsOpen: () => new Map(),
  });
  const options = { context: () => context, metrics, log: () => undefined };
  const review = (object: PodLike, extra: object = {}) => ({
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'shop',
    object,
    ...extra,
  });

  it('answers with a base64 JSON Patch', () => {
    const response = admit(review(pod()), options);
    expect(response).toMatchObject({ uid: 'u1', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString()) as { path: string }[];
    expect(ops.map((o) => o.path)).toContain('/spec/initContainers');
  });

  it('refuses a pod it cannot inject, saying why', () => {
    const response = admit(review(pod((p) => delete p.spec?.containers?.[0]?.ports)), options);
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toMatch(/^gatehouse: no container port/);
  });

  it.each([
    ['an UPDATE', { operation: 'UPDATE' }],
    ['another kind', { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }],
  ])('allows %s unchanged', (_what, extra) => {
    expect(admit(review(pod(), extra), options)).toEqual({ uid: 'u1', allowed: true });
  });

  it('refuses while there is no CA bundle to give the sidecar', () => {
    const response = admit(review(pod()), { ...options, context: () => undefined });
    expect(response).toMatchObject({ allowed: false, status: { code: 503 } });
  });
});

describe('Deployment opt-in', () => {
  const deployment = (
    annotations: Record<string, string>,
    labels: Record<string, string> = {},
    managers: string[] = [],
  ) =>
    ({
      metadata: {
        name: 'web',
        namespace: 'shop',
        annotations,
        managedFields: managers.map((manager) => ({ manager, operation: 'Apply' })),
      },
      spec: { template: { metadata: { labels: { app: 'web', ...labels } } } },
    }) as KubeObject;
  const optIn = { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'storefront' };

  it.each<[string, KubeObject, string]>([
    ['labels an opted-in Deployment', deployment(optIn), 'label'],
    ['leaves it once labelled', deployment(optIn, optIn, ['gatehouse-injection']), 'none'],
    ['leaves a template the user labelled', deployment(optIn, optIn), 'none'],
    [
      'relabels when the application changes',
      deployment(optIn, { ...optIn, 'gatehouse.dev/application': 'x' }),
      'label',
    ],
    [
      'releases its labels when the annotation goes',
      deployment({}, optIn, ['gatehouse-injection']),
      'unlabel',
    ],
    [
      'releases on inject: "false"',
      deployment({ ...optIn, 'gatehouse.dev/inject': 'false' }, optIn, ['gatehouse-injection']),
      'unlabel',
    ],
    ['ignores Deployments never opted in', deployment({}), 'none'],
    ['reports an opt-in without application', deployment({ 'gatehouse.dev/inject': 'true' }), 'invalid'],
    [
      'reports a malformed application',
      deployment({ ...optIn, 'gatehouse.dev/application': 'A B' }),
      'invalid',
    ],
  ])('%s', (_what, object, kind) => {
    expect(planDeploymentOptIn(object).kind).toBe(kind);
  });

  it('applies only the two labels, or nothing to release them', () => {
    const d = deployment(optIn);
    expect(optInApplyBody(d, planDeploymentOptIn(d))).toEqual({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { template: { metadata: { labels: optIn } } },
    });
    expect(optInApplyBody(d, { kind: 'unlabel' })).toEqual({ metadata: { name: 'web', namespace: 'shop' } });
  });
});

describe('webhook caBundle', () => {
  const configuration = (caBundle?: string): KubeObject => ({
    metadata: { name: 'gatehouse-sidecar-injector' },
    webhooks: [{ name: 'inject.gatehouse.dev', clientConfig: { ...(caBundle ? { caBundle } : {}) } }],
  });

  it('applies the bundle to every webhook, and nothing once it is there', () => {
    const body = caBundleApply(configuration(), 'PEM');
    expect(body).toEqual({
      metadata: { name: 'gatehouse-sidecar-injector' },
      webhooks: [{ name: 'inject.gatehouse.dev', clientConfig: { caBundle: 'UEVN' } }],
    });
    expect(caBundleApply(configuration('UEVN'), 'PEM')).toBeUndefined();
  });
});

describe('injection settings', () => {
  it('fills defaults', () => {
    expect(settings).toMatchObject({
      listenPort: 4180,
      adminPort: 9180,
      nativeSidecar: 'auto',
      imagePullPolicy: 'IfNotPresent',
    });
  });

  it.each<[string, object, RegExp]>([
    ['an unknown field', { image: 'x', operatorUrl: 'https://op', colour: 'red' }, /colour: unknown field/],
    ['a plain-http operator URL', { image: 'x', operatorUrl: 'http://op' }, /operatorUrl/],
    ['equal ports', { image: 'x', operatorUrl: 'https://op', listenPort: 9180 }, /adminPort: must differ/],
    [
      'a bad quantity',
      { image: 'x', operatorUrl: 'https://op', resources: { limits: { memory: 'lots' } } },
      /memory/,
    ],
    ['no image', { operatorUrl: 'https://op' }, /image/],
    ['UID 0', { image: 'x', operatorUrl: 'https://op', runAsUser: 0 }, /runAsUser/],
    [
      'a pull secret that is not a name',
      { image: 'x', operatorUrl: 'https://op', imagePullSecrets: [{ name: 'Reg Cred' }] },
      /imagePullSecrets/,
    ],
  ])('refuses %s', (_what, value, message) => {
    try {
      parseInjectionSettings(value, 'injection.yaml');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).errors.map((e) => `${e.path}: ${e.message}`).join('\n')).toMatch(message);
    }
  });
});
