import {
  ACCESS_APPLICATIONS,
  ACCESS_POLICIES,
  ACCESS_REVOCATIONS,
} from '../../contract/api/resource-types.ts';
import { keysSecretName } from '../../contract/keys.ts';
import { createAdminServer } from '../../lib/admin-server.ts';
import type { KubeConnection } from '../../lib/kube/connection.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { type KubeObject, objectKey, splitKey } from '../../lib/kube/kube-object.ts';
import { type ResourceType, SECRETS } from '../../lib/kube/resource-types.ts';
import { listenOn } from '../../lib/listen.ts';
import { validApplication } from './controller/application-inputs.ts';
import { EventRecorder } from './controller/event-recorder.ts';
import { type Informer, type InformerOptions, startInformer } from './controller/informer.ts';
import { type LeaderElection, startLeaderElection } from './controller/leader-election.ts';
import {
  type ApplicationReconcilerContext,
  reconcileApplication,
} from './controller/reconcile-application.ts';
import { reconcilePolicy } from './controller/reconcile-policy.ts';
import { type RevocationReconcilerContext, reconcileRevocation } from './controller/reconcile-revocation.ts';
import { ReferenceIndex } from './controller/reference-index.ts';
import {
  type RevocationView,
  readRevocation,
  sameRevocation,
  sessionLifetimeMs,
} from './controller/revocations.ts';
import { DEFAULT_OVERLAP_MS, DEFAULT_ROTATION_MS } from './controller/signing-key-rotation.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { ConfigHub } from './delivery/config-hub.ts';
import { createDeliveryServer } from './delivery/delivery-server.ts';
import { createSidecarVerifier } from './delivery/sidecar-identity.ts';
import { createInjectionController, type InjectionController } from './injection/injection-controller.ts';
import type { InjectionSettings } from './injection/injection-settings.ts';
import { errorMessage, logOperatorEvent } from './operator-log.ts';
import { createOperatorMetrics } from './operator-metrics.ts';
import { createServingTlsManager, type ServingTlsManager } from './tls/serving-tls.ts';
import type { ServingTlsSettings } from './tls/serving-tls-plan.ts';

export const DEFAULT_CONCURRENCY = 4;
export const LEASE_NAME = 'gatehouse-operator';
/** Longest single timer; a revocation further from expiry is looked at again after this. */
const MAX_TIMER_MS = 24 * 3600_000;
/** Secrets the operator never needs, left out of its cache. */
const SECRET_FIELD_SELECTOR = 'type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1';

export interface StaticTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly caBundle?: string;
}

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export interface OperatorOptions {
  readonly connection: KubeConnection;
  /** Namespace of the operator's Lease. */
  readonly namespace: string;
  /** This replica's name in the Lease (the pod name in a cluster). */
  readonly identity: string;
  /**
   * The serving certificate: given (cert, key, and the CA bundle sidecars should trust), or
   * managed: kept by the operator in a Secret of its namespace, with its own CA.
   */
  readonly tls:
    | StaticTls
    | { readonly managed: { readonly secretName: string; readonly settings: ServingTlsSettings } };
  /** Sidecar injection (webhook and Deployment opt-in); off when absent. */
  readonly injection?: {
    readonly settings: InjectionSettings;
    /** The MutatingWebhookConfiguration whose caBundle the operator keeps (with managed TLS). */
    readonly webhookConfiguration?: string;
  };
  readonly deliveryListen: Listen;
  readonly adminListen: Listen;
  readonly concurrency?: number;
  readonly watch?: Pick<InformerOptions, 'watchTimeoutSeconds' | 'stallTimeoutMs' | 'resyncMs' | 'backoff'>;
  readonly lease?: { durationMs?: number; renewMs?: number; retryMs?: number };
  readonly rotation?: { rotationMs?: number; overlapMs?: number };
  readonly heartbeatMs?: number;
  readonly now?: () => Date;
}

/** The operator: caches, work queue, reconcilers, leader election, config delivery and metrics, wired together. */
export function createOperator(options: OperatorOptions) {
  const client = new KubeClient(options.connection);
  const metrics = createOperatorMetrics({
    queueDepth: () => queue.depth,
    applicationsByReady: () => {
      const counts: Record<string, number> = { True: 0, False: 0, Unknown: 0 };
      for (const status of readiness.values()) counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    },
  });
  const hub = new ConfigHub();
  const references = new ReferenceIndex();
  const readiness = new Map<string, string>();
  const now = options.now ?? (() => new Date());
  const events = new EventRecorder(client, (error) =>
    logOperatorEvent('event_write_failed', { error: errorMessage(error) }),
  );
  let election: LeaderElection | undefined;
  const isLeader = (): boolean => election?.isLeader() ?? false;

  const queue = new WorkQueue({
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    process: (key) => process(key),
    onError: (key, error) => {
      metrics.reconcileErrors.inc({ kind: kindOf(key) });
      logOperatorEvent('reconcile_failed', { key, error: errorMessage(error) });
    },
  });

  const informer = (
    resource: ResourceType,
    onChange: InformerOptions['onChange'],
    extra: Partial<InformerOptions> = {},
  ): Informer =>
    startInformer(client, {
      resource,
      onChange,
      ...options.watch,
      ...extra,
      onRestart: (reason, error) => {
        metrics.watchRestarts.inc({ resource: resource.plural, reason });
        if (reason !== 'resync')
          logOperatorEvent('watch_restarted', {
            resource: resource.plural,
            reason,
            error: error ? errorMessage(error) : undefined,
          });
      },
    });

  const applicationRefs = (key: string, object: KubeObject | undefined): string[] => {
    if (!object) return [];
    const { namespace } = splitKey(key);
    const spec = object.spec as {
      policies?: { name: string }[];
      authentication?: { identityProviders?: { clientSecretRef?: { name: string } }[] };
    };
    return [
      ...(spec.policies ?? []).map((p) => `policy:${namespace}/${p.name}`),
      ...(spec.authentication?.identityProviders ?? []).flatMap((p) =>
        p.clientSecretRef ? [`secret:${namespace}/${p.clientSecretRef.name}`] : [],
      ),
      `secret:${namespace}/${keysSecretName(object.metadata.name)}`,
    ];
  };

  /** Queues every object of a cache under a key prefix (app:, policy:, deploy:). */
  const requeueAll = (prefix: string, cache: Informer): void => {
    for (const object of cache.values()) queue.add(`${prefix}:${objectKey(object)}`);
  };
  /** Work-queue keys to add again later (a revocation's expiry, the next TLS check), one timer per key. */
  const timers = new Map<string, NodeJS.Timeout>();
  const requeueAfter = (key: string, ms: number): void => {
    clearTimeout(timers.get(key));
    const timer = setTimeout(
      () => {
        timers.delete(key);
        queue.add(key);
      },
      Math.max(0, Math.min(ms, MAX_TIMER_MS)),
    );
    timer.unref();
    timers.set(key, timer);
  };
  const requeueRevocations = (): void => {
    for (const name of revocationViews.keys()) queue.add(`revocation:${name}`);
  };

  /** Session lifetime of every valid application: what revocations cover and when they expire. */
  const sessionLifetimes = new Map<string, number>();
  const applications = informer(ACCESS_APPLICATIONS, (key, object) => {
    references.set(`app:${key}`, applicationRefs(key, object));
    queue.add(`app:${key}`);
    const application =
      object && !object.metadata.deletionTimestamp ? validApplication(object).application : undefined;
    const lifetime = application ? sessionLifetimeMs(application) : undefined;
    if (lifetime === sessionLifetimes.get(key)) return;
    if (lifetime === undefined) sessionLifetimes.delete(key);
    else sessionLifetimes.set(key, lifetime);
    // Which applications a revocation covers, and so when it expires, has changed.
    requeueRevocations();
  });
  const revocationViews = new Map<string, RevocationView>();
  const revocations = informer(ACCESS_REVOCATIONS, (key, object) => {
    const name = key.slice(1);
    const view = object && !object.metadata.deletionTimestamp ? readRevocation(object) : undefined;
    const before = revocationViews.get(name);
    if (view) revocationViews.set(name, view);
    else revocationViews.delete(name);
    queue.add(`revocation:${name}`);
    if (!sameRevocation(before, view)) requeueAll('app', applications);
  });
  const policies = informer(ACCESS_POLICIES, (key) => {
    queue.add(`policy:${key}`);
    for (const app of references.sources(`policy:${key}`)) queue.add(app);
  });
  const secrets = informer(
    SECRETS,
    (key) => {
      for (const app of references.sources(`secret:${key}`)) queue.add(app);
      servingTls?.secretChanged(key);
    },
    { fieldSelector: SECRET_FIELD_SELECTOR },
  );

  const staticTls = 'managed' in options.tls ? undefined : options.tls;
  const managedTls = 'managed' in options.tls ? options.tls.managed : undefined;
  const servingTls: ServingTlsManager | undefined = managedTls
    ? createServingTlsManager({
        client,
        secrets,
        namespace: options.namespace,
        secretName: managedTls.secretName,
        settings: managedTls.settings,
        metrics,
        isLeader,
        now,
        log: logOperatorEvent,
        requeue: (ms) => requeueAfter(`tls:${options.namespace}/${managedTls.secretName}`, ms),
        onChange: (tls) => {
          delivery.setTls(tls.cert, tls.key);
          injection?.caBundleChanged();
        },
      })
    : undefined;
  const injection: InjectionController | undefined = options.injection
    ? createInjectionController({
        client,
        connection: options.connection,
        informer,
        enqueue: (key) => queue.add(key),
        isLeader,
        metrics,
        events,
        log: logOperatorEvent,
        settings: options.injection.settings,
        ...(servingTls && options.injection.webhookConfiguration
          ? { webhookConfiguration: options.injection.webhookConfiguration }
          : {}),
        caBundle: () => servingTls?.current()?.caBundle ?? staticTls?.caBundle,
      })
    : undefined;
  const synced = Promise.all([
    applications.synced,
    policies.synced,
    secrets.synced,
    revocations.synced,
    injection?.synced,
  ]).then(() => {
    servingTls?.refresh();
  });

  const context: ApplicationReconcilerContext = {
    client,
    applications,
    policies,
    secrets,
    hub,
    events,
    metrics,
    isLeader,
    now,
    rotation: {
      rotationMs: options.rotation?.rotationMs ?? DEFAULT_ROTATION_MS,
      overlapMs: options.rotation?.overlapMs ?? DEFAULT_OVERLAP_MS,
    },
    revocations: () => revocationViews.values(),
    onReady: (key, ready) => {
      if (ready === undefined) readiness.delete(key);
      else readiness.set(key, ready);
    },
  };

  const revocationContext: RevocationReconcilerContext = {
    client,
    revocations,
    view: (name) => revocationViews.get(name),
    sessionLifetimes,
    hub,
    metrics,
    isLeader,
    now,
    log: logOperatorEvent,
    later: (name, ms) => requeueAfter(`revocation:${name}`, ms),
  };

  /** The reconciler of each work-queue key prefix. */
  const reconcilers: Record<KeyPrefix, (target: string) => Promise<string>> = {
    app: (target) => reconcileApplication(context, target),
    policy: (target) => reconcilePolicy(context, policies.get(target)),
    revocation: (target) => reconcileRevocation(revocationContext, target),
    deploy: async (target) => (injection ? injection.reconcileDeployment(target) : 'skipped'),
    webhook: async () => (injection ? injection.reconcileWebhook() : 'skipped'),
    tls: async () => (servingTls ? servingTls.ensure() : 'skipped'),
  };

  async function process(key: string): Promise<void> {
    await synced;
    const prefix = prefixOf(key);
    const kind = KINDS[prefix];
    const end = metrics.reconcileDuration.startTimer({ kind });
    const result = await reconcilers[prefix](key.slice(prefix.length + 1));
    end();
    metrics.reconciles.inc({ kind, result });
  }

  const delivery = createDeliveryServer({
    ...(staticTls ? { tls: { cert: staticTls.cert, key: staticTls.key } } : {}),
    ...(injection ? { admission: injection.admission } : {}),
    hub,
    verify: createSidecarVerifier(client),
    metrics,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
  });
  let ready = false;
  void Promise.all([synced, servingTls?.loaded]).then(() => {
    ready = true;
    logOperatorEvent('caches_synced', { applications: applications.size, policies: policies.size });
  });
  const admin = createAdminServer(metrics, { ready: () => ready });

  return {
    hub,
    metrics,
    isLeader,
    synced,
    /** Keys in the queue or running; 0 when everything seen so far is reconciled. */
    get queueDepth() {
      return queue.depth;
    },
    readiness: (key: string) => readiness.get(key),
    async start(): Promise<{ deliveryPort: number; adminPort: number }> {
      if (injection) {
        const native = await injection.detectNativeSidecar();
        logOperatorEvent('injection_enabled', { nativeSidecar: native });
      }
      const { port: deliveryPort } = await listenOn(
        delivery.server,
        options.deliveryListen.port,
        options.deliveryListen.host,
      );
      const { port: adminPort } = await listenOn(admin, options.adminListen.port, options.adminListen.host);
      election = startLeaderElection(client, {
        namespace: options.namespace,
        name: LEASE_NAME,
        identity: options.identity,
        ...options.lease,
        onChange: (leader) => {
          metrics.leader.set(leader ? 1 : 0);
          logOperatorEvent(leader ? 'leader_elected' : 'leader_lost', { identity: options.identity });
          if (leader) {
            requeueAll('app', applications);
            requeueAll('policy', policies);
            requeueRevocations();
            injection?.resyncAll();
            servingTls?.refresh();
          }
        },
      });
      return { deliveryPort, adminPort };
    },
    /** Graceful shutdown: stop taking work, let running reconciles finish, hand over the Lease, end streams. */
    async stop(graceMs = 10_000): Promise<void> {
      queue.stop();
      await Promise.race([queue.drained(), new Promise((r) => setTimeout(r, graceMs).unref())]);
      for (const i of [applications, policies, secrets, revocations]) i.stop();
      for (const timer of timers.values()) clearTimeout(timer);
      injection?.stop();
      await election?.release();
      delivery.endStreams();
      delivery.server.close();
      delivery.server.closeAllConnections();
      admin.close();
      await options.connection.dispatcher.close().catch(() => undefined);
    },
  };
}

export type Operator = ReturnType<typeof createOperator>;

/** Work-queue keys are <prefix>:<target>; the prefix says what kind of object, a label of the reconcile metrics. */
const KINDS = {
  app: 'AccessApplication',
  policy: 'AccessPolicy',
  revocation: 'AccessRevocation',
  deploy: 'Deployment',
  webhook: 'MutatingWebhookConfiguration',
  tls: 'Secret',
} as const;
type KeyPrefix = keyof typeof KINDS;

const prefixOf = (key: string): KeyPrefix => key.slice(0, key.indexOf(':')) as KeyPrefix;

/** The kind a work-queue key is about. */
function kindOf(key: string): string {
  return KINDS[prefixOf(key)] ?? 'unknown';
}
