import {
  ACCESS_APPLICATIONS,
  ACCESS_POLICIES,
  ACCESS_REVOCATIONS,
} from '../../contract/api/resource-types.ts';
import { secretReferences } from '../../contract/config/references.ts';
import { externalUrlKey } from '../../contract/external-url.ts';
import { APPLICATION_KEY, type InjectedContainer, SIDECAR_CONTAINER } from '../../contract/injection.ts';
import { keysSecretName } from '../../contract/keys.ts';
import {
  covers,
  type RevocationView,
  readRevocation,
  sameRevocation,
  sessionLifetimeMs,
} from '../../contract/revocations.ts';
import type { KubeClient } from '../../lib/kube/kube-client.ts';
import { type KubeObject, objectKey, splitKey } from '../../lib/kube/kube-object.ts';
import {
  ENDPOINT_SLICES,
  NETWORK_POLICIES,
  PODS,
  type ResourceType,
  SECRETS,
  SERVICES,
} from '../../lib/kube/resource-types.ts';
import type { NetworkPolicySpecShape } from './controller/app-port-exposure.ts';
import { validApplication } from './controller/application-inputs.ts';
import { type Informer, type InformerOptions, startInformer } from './controller/informer.ts';
import { ReferenceIndex } from './controller/reference-index.ts';
import { SERVICE_NAME_LABEL } from './controller/services-past-sidecar.ts';
import { errorMessage, type OperatorLog } from './operator-log.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import type { OperatorOptions } from './operator-options.ts';

/** Secrets the operator never needs, left out of its cache. */
const SECRET_FIELD_SELECTOR = 'type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1';

/** Starts an informer with the operator's watch settings, its restarts counted and logged. */
export type InformerFactory = (
  resource: ResourceType,
  onChange: InformerOptions['onChange'],
  extra?: Partial<InformerOptions>,
) => Informer;

export function informerFactory(
  client: KubeClient,
  watch: OperatorOptions['watch'],
  metrics: OperatorMetrics,
  log: OperatorLog,
): InformerFactory {
  return (resource, onChange, extra = {}) =>
    startInformer(client, {
      resource,
      onChange,
      ...watch,
      ...extra,
      onRestart: (reason, error) => {
        metrics.watchRestarts.inc({ resource: resource.plural, reason });
        if (reason !== 'resync')
          log('watch_restarted', {
            resource: resource.plural,
            reason,
            error: error ? errorMessage(error) : undefined,
          });
      },
    });
}

/**
 * What the operator reads of a Pod labelled with an application: its name, uid, labels,
 * ServiceAccount, container names, ports and the sidecar's arguments, and phase.
 */
function podIdentity(pod: KubeObject): KubeObject {
  const { name, namespace, uid, labels, resourceVersion } = pod.metadata;
  const spec = pod.spec as PodSpecNames | undefined;
  // The names say whether the pod runs the sidecar (pods-without-sidecar.ts); the ports and the
  // sidecar's arguments, which port it stands in front of (services-past-sidecar.ts).
  const names = (containers: readonly InjectedContainer[] | undefined) =>
    (containers ?? []).map((c) => ({
      name: c.name,
      ...(c.ports ? { ports: c.ports.map((p) => ({ name: p.name, containerPort: p.containerPort })) } : {}),
      ...(c.name === SIDECAR_CONTAINER && c.args ? { args: c.args } : {}),
    }));
  return {
    metadata: { name, namespace, uid, labels, resourceVersion },
    spec: {
      serviceAccountName: spec?.serviceAccountName,
      initContainers: names(spec?.initContainers),
      containers: names(spec?.containers),
    },
    status: {
      phase: (pod.status as { phase?: string } | undefined)?.phase,
      // Its addresses: endpoints written by hand reach it by them (services-past-sidecar.ts).
      podIPs: ((pod.status as { podIPs?: { ip?: unknown }[] } | undefined)?.podIPs ?? []).flatMap((p) =>
        typeof p.ip === 'string' ? [{ ip: p.ip }] : [],
      ),
    },
  } as KubeObject;
}

/**
 * EndpointSlices that no Service selector keeps (those of a Service without a selector, written
 * by hand or mirrored from its Endpoints): the rest are the endpoint controller's, for Services
 * the operator reads by their selector.
 */
const HAND_WRITTEN_SLICES = 'endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io';

/** What the operator keeps of an EndpointSlice: its Service, its ports and its addresses. */
function sliceTargets(slice: KubeObject): KubeObject {
  const { name, namespace, resourceVersion, labels } = slice.metadata;
  const { ports, endpoints } = slice as unknown as {
    ports?: { name?: string; port?: number }[];
    endpoints?: { addresses?: string[] }[];
  };
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: { [SERVICE_NAME_LABEL]: labels?.[SERVICE_NAME_LABEL] ?? '' },
    },
    ports: (ports ?? []).map((p) => ({ name: p.name, port: p.port })),
    endpoints: (endpoints ?? []).map((e) => ({ addresses: [...(e.addresses ?? [])] })),
  } as KubeObject;
}

/** What the operator keeps of a NetworkPolicy: its pod selector, policy types and ingress ports. */
function networkPolicyRules(policy: KubeObject): KubeObject {
  const { name, namespace, resourceVersion } = policy.metadata;
  const spec = (policy.spec ?? {}) as NetworkPolicySpecShape;
  return {
    metadata: { name, namespace, resourceVersion },
    spec: {
      podSelector: spec.podSelector ?? {},
      ...(spec.policyTypes ? { policyTypes: [...spec.policyTypes] } : {}),
      ingress: (spec.ingress ?? []).map((rule) => ({
        // Whether it names peers is what is read of them.
        from: (rule.from ?? []).map(() => ({})),
        ...(rule.ports ? { ports: rule.ports.map((p) => ({ ...p })) } : {}),
      })),
    },
  } as KubeObject;
}

/** The fields of a pod's spec the operator's pod cache keeps. */
interface PodSpecNames {
  readonly serviceAccountName?: string;
  readonly initContainers?: readonly InjectedContainer[];
  readonly containers?: readonly InjectedContainer[];
}

/** Cached objects by namespace, kept from an informer's changes (undefined: deleted). */
function namespaceIndex() {
  const byNamespace = new Map<string, Map<string, KubeObject>>();
  return {
    changed(key: string, object: KubeObject | undefined): void {
      const namespace = key.slice(0, key.indexOf('/'));
      const objects = byNamespace.get(namespace) ?? new Map<string, KubeObject>();
      if (object) objects.set(key, object);
      else objects.delete(key);
      if (objects.size === 0) byNamespace.delete(namespace);
      else byNamespace.set(namespace, objects);
    },
    in: (namespace: string): Iterable<KubeObject> => byNamespace.get(namespace)?.values() ?? [],
  };
}

/** What the operator reads of a Service: its selector and its ports' targets. */
function serviceTargets(service: KubeObject): KubeObject {
  const { name, namespace, resourceVersion } = service.metadata;
  const spec = service.spec as
    | {
        selector?: Record<string, string>;
        ports?: { name?: string; port: number; targetPort?: number | string }[];
      }
    | undefined;
  return {
    metadata: { name, namespace, resourceVersion },
    spec: {
      selector: spec?.selector,
      ports: (spec?.ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort })),
    },
  } as KubeObject;
}

/** The keys (policy:, secret:) an application's reconcile reads, so a change to them requeues it. */
function applicationRefs(key: string, object: KubeObject | undefined): string[] {
  if (!object) return [];
  const { namespace } = splitKey(key);
  const policies = (object.spec as { policies?: { name: string }[] }).policies ?? [];
  const url = externalUrlKey(object);
  return [
    ...policies.map((p) => `policy:${namespace}/${p.name}`),
    ...secretReferences(object).map((ref) => `secret:${namespace}/${ref.name}`),
    `secret:${namespace}/${keysSecretName(object.metadata.name)}`,
    ...(url !== undefined ? [`url:${url}`] : []),
  ];
}

/**
 * The operator's caches of the gatehouse.dev resources and Secrets, and what it derives from
 * them as they change: which keys each application reads, the session lifetime of each valid
 * application, and the parsed revocations. Every change queues the work keys it affects.
 */
export function createOperatorCaches(informer: InformerFactory, enqueue: (key: string) => void) {
  const references = new ReferenceIndex();
  /** Session lifetime of every valid application: what revocations cover and when they expire. */
  const sessionLifetimes = new Map<string, number>();
  const revocationViews = new Map<string, RevocationView>();
  /** AccessRevocations that name applications, by application; and those for every application. */
  const revocationsNaming = new Map<string, number>();
  let revocationsEverywhere = 0;
  /** Session ends that name an account (SESSION_END_ACCOUNT_LABEL), by application and account. */
  const accountEnds = new Map<string, number>();
  const add = (counts: Map<string, number>, key: string, by: number): void => {
    const count = (counts.get(key) ?? 0) + by;
    if (count > 0) counts.set(key, count);
    else counts.delete(key);
  };
  const countRevocation = (view: RevocationView | undefined, by: number): void => {
    if (!view) return;
    if (view.applications === null) revocationsEverywhere += by;
    else
      for (const application of view.applications) {
        add(revocationsNaming, application, by);
        if (view.account !== undefined) add(accountEnds, `${application}\u0000${view.account}`, by);
      }
  };
  const secretListeners: ((key: string) => void)[] = [];
  const podListeners: ((key: string, pod: KubeObject | undefined) => void)[] = [];
  const revocationListeners: ((
    before: RevocationView | undefined,
    after: RevocationView | undefined,
  ) => void)[] = [];

  const requeueAll = (prefix: string, cache: Informer): void => {
    for (const object of cache.values()) enqueue(`${prefix}:${objectKey(object)}`);
  };
  const requeueRevocations = (): void => {
    for (const name of revocationViews.keys()) enqueue(`revocation:${name}`);
  };

  /** The applications that sign people in at an external URL (`url:` targets), this one aside. */
  const sharingUrl = (key: string): string[] =>
    references
      .targets(`app:${key}`)
      .filter((t) => t.startsWith('url:'))
      .flatMap((t) => references.sources(t))
      .filter((source) => source !== `app:${key}`);
  const applications = informer(ACCESS_APPLICATIONS, (key, object) => {
    // The applications that shared its external URL before and share it now learn who holds it first.
    const before = sharingUrl(key);
    references.set(`app:${key}`, applicationRefs(key, object));
    enqueue(`app:${key}`);
    for (const other of new Set([...before, ...sharingUrl(key)])) enqueue(other);
    const application =
      object && !object.metadata.deletionTimestamp ? validApplication(object).application : undefined;
    const lifetime = application ? sessionLifetimeMs(application) : undefined;
    if (lifetime === sessionLifetimes.get(key)) return;
    if (lifetime === undefined) sessionLifetimes.delete(key);
    else sessionLifetimes.set(key, lifetime);
    // Which applications a revocation covers, and so when it expires, has changed.
    requeueRevocations();
  });
  const revocations = informer(ACCESS_REVOCATIONS, (key, object) => {
    const name = key.slice(1);
    const view = object && !object.metadata.deletionTimestamp ? readRevocation(object) : undefined;
    const before = revocationViews.get(name);
    if (view) revocationViews.set(name, view);
    else revocationViews.delete(name);
    countRevocation(before, -1);
    countRevocation(view, 1);
    enqueue(`revocation:${name}`);
    if (sameRevocation(before, view)) return;
    for (const listener of revocationListeners) listener(before, view);
    // Rendered again: the applications it covered and covers. Every application was, for every
    // revocation: one user's sign-out (a revocation of one session of one application) re-rendered
    // the whole cluster, and ten sign-outs a second kept the operator's thread busy for good.
    for (const object of applications.values()) {
      const app = objectKey(object);
      if ((before && covers(before, app)) || (view && covers(view, app))) enqueue(`app:${app}`);
    }
  });
  const policies = informer(ACCESS_POLICIES, (key) => {
    enqueue(`policy:${key}`);
    for (const app of references.sources(`policy:${key}`)) enqueue(app);
  });
  const secrets = informer(
    SECRETS,
    (key) => {
      for (const app of references.sources(`secret:${key}`)) enqueue(app);
      for (const listener of secretListeners) listener(key);
    },
    { fieldSelector: SECRET_FIELD_SELECTOR },
  );

  /** An informer whose objects are kept by namespace too; `then` is told of each change after that. */
  const byNamespace = (
    resource: ResourceType,
    then: InformerOptions['onChange'],
    extra: Partial<InformerOptions>,
  ): { readonly informer: Informer; readonly in: (namespace: string) => Iterable<KubeObject> } => {
    const index = namespaceIndex();
    const cache = informer(
      resource,
      (key, object) => {
        index.changed(key, object);
        then(key, object);
      },
      extra,
    );
    return { informer: cache, in: index.in };
  };

  /** Queues the Protected condition of every application in the namespace of this object key. */
  const protectionOfNamespaceOf = (key: string): void => {
    const namespace = key.slice(0, key.indexOf('/'));
    for (const object of applications.values())
      if (object.metadata.namespace === namespace) enqueue(`protection:${objectKey(object)}`);
  };

  // The Pods sidecars run in (labelled with their application): who may read a config stream.
  const podsByNamespace = byNamespace(
    PODS,
    (key, pod) => {
      for (const listener of podListeners) listener(key, pod);
    },
    { labelSelector: APPLICATION_KEY, transform: podIdentity },
  );
  const pods = podsByNamespace.informer;

  // Services: one that targets an application's own port, past the sidecar (services-past-sidecar.ts).
  const servicesByNamespace = byNamespace(SERVICES, protectionOfNamespaceOf, { transform: serviceTargets });
  const services = servicesByNamespace.informer;

  // EndpointSlices written by hand: a Service without a selector whose endpoints are an
  // application's pods at their own port. Not waited for at start (an older ClusterRole without
  // them leaves only this check out).
  const slicesByNamespace = byNamespace(ENDPOINT_SLICES, protectionOfNamespaceOf, {
    labelSelector: HAND_WRITTEN_SLICES,
    transform: sliceTargets,
  });
  const slices = slicesByNamespace.informer;

  // NetworkPolicies: whether an application's own port is closed to the cluster
  // (app-port-exposure.ts). Not waited for at start either.
  const networkPoliciesByNamespace = byNamespace(NETWORK_POLICIES, protectionOfNamespaceOf, {
    transform: networkPolicyRules,
  });
  const networkPolicies = networkPoliciesByNamespace.informer;

  return {
    applications,
    policies,
    secrets,
    revocations,
    pods,
    services,
    /** The cached pods (labelled with an application) and Services of one namespace. */
    podsIn: (namespace: string): Iterable<KubeObject> => podsByNamespace.in(namespace),
    servicesIn: (namespace: string): Iterable<KubeObject> => servicesByNamespace.in(namespace),
    /** The cached EndpointSlices written by hand (no Service selector keeps them) of one namespace. */
    slicesIn: (namespace: string): Iterable<KubeObject> => slicesByNamespace.in(namespace),
    /** The cached NetworkPolicies (their pod selectors and ingress rules) of one namespace. */
    networkPoliciesIn: (namespace: string): Iterable<KubeObject> => networkPoliciesByNamespace.in(namespace),
    revocationViews,
    /** AccessRevocations in force that cover the application with this namespace/name key. */
    revocationsCovering: (application: string): number =>
      revocationsEverywhere + (revocationsNaming.get(application) ?? 0),
    /** Session-end AccessRevocations in force for the application that name this account. */
    accountEndsCovering: (application: string, account: string): number =>
      accountEnds.get(`${application}\u0000${account}`) ?? 0,
    sessionLifetimes,
    /** The other applications (namespace/name) that sign people in at this one's external URL. */
    sameExternalUrl: (key: string): string[] => sharingUrl(key).map((source) => source.slice('app:'.length)),
    synced: Promise.all([
      applications.synced,
      policies.synced,
      secrets.synced,
      revocations.synced,
      pods.synced,
      services.synced,
    ]),
    /** Calls the listener with every sidecar Pod that changes (undefined: deleted). */
    onPodChange(listener: (key: string, pod: KubeObject | undefined) => void): void {
      podListeners.push(listener);
    },
    /** Calls the listener with every AccessRevocation whose reading changes (before and after; undefined: none). */
    onRevocationChange(
      listener: (before: RevocationView | undefined, after: RevocationView | undefined) => void,
    ): void {
      revocationListeners.push(listener);
    },
    /** Calls the listener with the key of every Secret that changes. */
    onSecretChange(listener: (key: string) => void): void {
      secretListeners.push(listener);
    },
    /** Queues every application, policy and revocation again (a new leader writes every status). */
    requeueEverything(): void {
      requeueAll('app', applications);
      requeueAll('policy', policies);
      requeueRevocations();
    },
    stop(): void {
      for (const cache of [
        applications,
        policies,
        secrets,
        revocations,
        pods,
        services,
        slices,
        networkPolicies,
      ])
        cache.stop();
    },
  };
}

export type OperatorCaches = ReturnType<typeof createOperatorCaches>;
