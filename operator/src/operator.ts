import { APPLICATION_KEY } from '../../contract/injection.ts';
import { sessionEndRevocationName } from '../../contract/session-ends.ts';
import { createAdminServer } from '../../lib/admin-server.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { splitKey } from '../../lib/kube/kube-object.ts';
import { CROWD_BACKLOG, listenOn } from '../../lib/listen.ts';
import { appPortExposure } from './controller/app-port-exposure.ts';
import { EventRecorder } from './controller/event-recorder.ts';
import { startCrdCheck } from './controller/installed-crds.ts';
import { type LeaderElection, startLeaderElection } from './controller/leader-election.ts';
import { PodsWithoutSidecar } from './controller/pods-without-sidecar.ts';
import { createRevocationFanOut } from './controller/publish-revocations.ts';
import {
  type ApplicationReconcilerContext,
  reconcileApplication,
} from './controller/reconcile-application.ts';
import { reconcilePolicy } from './controller/reconcile-policy.ts';
import {
  PROTECTION_FIELD_MANAGER,
  type ProtectionContext,
  reconcileProtection,
} from './controller/reconcile-protection.ts';
import { type RevocationReconcilerContext, reconcileRevocation } from './controller/reconcile-revocation.ts';
import { servicesPastSidecar } from './controller/services-past-sidecar.ts';
import { DEFAULT_OVERLAP_MS, DEFAULT_ROTATION_MS } from './controller/signing-key-rotation.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { ConfigHub } from './delivery/config-hub.ts';
import { createDeliveryServer } from './delivery/delivery-server.ts';
import { podWaitingEvents } from './delivery/pod-waiting-events.ts';
import { sessionEndRecorder } from './delivery/record-session-end.ts';
import { createSidecarVerifier } from './delivery/sidecar-identity.ts';
import { createInjectionController } from './injection/injection-controller.ts';
import { createOperatorCaches, informerFactory } from './operator-caches.ts';
import { errorMessage, logOperatorEvent } from './operator-log.ts';
import { createOperatorMetrics } from './operator-metrics.ts';
import { DEFAULT_CONCURRENCY, LEASE_NAME, type OperatorOptions } from './operator-options.ts';
import { createServingTlsManager } from './tls/serving-tls.ts';
import { type KeyPrefix, KINDS, kindOf, prefixOf } from './work-keys.ts';

export type { OperatorOptions } from './operator-options.ts';

/**
 * The operator, built in dependency order: its state (queue, readiness, metrics, config hub),
 * the caches that fill the queue, the TLS and injection parts that read the caches, the
 * reconcilers that drain the queue, the servers, and finally the lifecycle (start and stop).
 */
export function createOperator(options: OperatorOptions) {
  // 1. State: what everything else writes to or reads from.
  const log = options.log ?? logOperatorEvent;
  const client = new KubeClient(options.connection);
  const now = options.now ?? (() => new Date());
  const queue = new WorkQueue({ concurrency: options.concurrency ?? DEFAULT_CONCURRENCY });
  const readiness = new Map<string, string>();
  const podsWithoutSidecar = new PodsWithoutSidecar();
  /** Service ports past the sidecar, by application (namespace/name), as the leader last saw them. */
  const servicesPastCounts = new Map<string, number>();
  const appPortsOpen = new Map<string, number>();
  const metrics = createOperatorMetrics({
    podsWithoutSidecar: () => podsWithoutSidecar.counts(),
    servicesPastSidecar: () => servicesPastCounts,
    appPortsOpen: () => appPortsOpen,
    queueDepth: () => queue.depth,
    applicationsByReady: () => {
      const counts: Record<string, number> = { True: 0, False: 0, Unknown: 0 };
      for (const status of readiness.values()) counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    },
  });
  const hub = new ConfigHub();
  const events = new EventRecorder(client, (error) =>
    log('event_write_failed', { error: errorMessage(error) }),
  );
  let election: LeaderElection | undefined;
  let crdCheck: ReturnType<typeof startCrdCheck> | undefined;
  const isLeader = (): boolean => election?.isLeader() ?? false;
  const enqueue = (key: string): void => queue.add(key);

  // 2. Caches: every change queues the keys it affects.
  const informer = informerFactory(client, options.watch, metrics, log);
  const caches = createOperatorCaches(informer, enqueue);
  // The application each cached pod is labelled with: a deleted pod names none of its own.
  const applicationOfPod = new Map<string, string>();
  caches.onPodChange((key, pod) => {
    for (const application of podsWithoutSidecar.podChanged(key, pod)) enqueue(`protection:${application}`);
    // A pod of the application that runs the sidecar (or no longer): a Service may target its own
    // port, and NetworkPolicies may leave that port open.
    const application = pod?.metadata.labels?.[APPLICATION_KEY];
    const before = applicationOfPod.get(key);
    if (application === undefined) applicationOfPod.delete(key);
    else applicationOfPod.set(key, application);
    const { namespace } = splitKey(key);
    for (const name of new Set([before, application]))
      if (name !== undefined) enqueue(`protection:${namespace}/${name}`);
  });

  // 3. The serving certificate and sidecar injection, both fed by the caches.
  const staticTls = 'managed' in options.tls ? undefined : options.tls;
  const managedTls = 'managed' in options.tls ? options.tls.managed : undefined;
  const servingTls = managedTls
    ? createServingTlsManager({
        client,
        secrets: caches.secrets,
        namespace: options.namespace,
        secretName: managedTls.secretName,
        settings: managedTls.settings,
        metrics,
        isLeader,
        now,
        log,
        requeue: (ms) => queue.addAfter(`tls:${options.namespace}/${managedTls.secretName}`, ms),
      })
    : undefined;
  if (servingTls) caches.onSecretChange((key) => servingTls.secretChanged(key));
  const injection = options.injection
    ? createInjectionController({
        client,
        connection: options.connection,
        informer,
        enqueue,
        isLeader,
        metrics,
        events,
        log,
        settings: options.injection.settings,
        ...(servingTls && options.injection.webhookConfiguration
          ? { webhookConfiguration: options.injection.webhookConfiguration }
          : {}),
        caBundle: () => servingTls?.current()?.caBundle ?? staticTls?.caBundle,
      })
    : undefined;
  let cachesSynced = false;
  caches.synced.then(
    () => {
      cachesSynced = true;
    },
    () => undefined, // the operator's start reports a failed sync
  );
  const synced = Promise.all([caches.synced, injection?.synced]).then(() => {
    servingTls?.refresh();
  });

  // 4. Reconcilers: one per work-queue key prefix; the queue starts once they exist.
  const applicationContext: ApplicationReconcilerContext = {
    client,
    applications: caches.applications,
    policies: caches.policies,
    secrets: caches.secrets,
    hub,
    events,
    metrics,
    isLeader,
    now,
    rotation: {
      rotationMs: options.rotation?.rotationMs ?? DEFAULT_ROTATION_MS,
      overlapMs: options.rotation?.overlapMs ?? DEFAULT_OVERLAP_MS,
    },
    revocations: () => caches.revocationViews.values(),
    sameExternalUrl: caches.sameExternalUrl,
    onReady: (key, ready) => {
      if (ready === undefined) readiness.delete(key);
      else readiness.set(key, ready);
    },
  };
  // A changed revocation reaches the streams of the applications it covers at once; their
  // renders (queued by the caches) follow.
  caches.onRevocationChange(createRevocationFanOut(applicationContext, caches.sessionLifetimes));
  const revocationContext: RevocationReconcilerContext = {
    client,
    revocations: caches.revocations,
    view: (name) => caches.revocationViews.get(name),
    sessionLifetimes: caches.sessionLifetimes,
    hub,
    metrics,
    isLeader,
    now,
    log,
    later: (name, ms) => queue.addAfter(`revocation:${name}`, ms),
  };
  const protectionContext: ProtectionContext = {
    client: new KubeClient(options.connection, { fieldManager: PROTECTION_FIELD_MANAGER }),
    applications: caches.applications,
    pods: podsWithoutSidecar,
    servicesPast: (key) => {
      const { namespace, name } = splitKey(key);
      const ports = servicesPastSidecar(
        name,
        caches.podsIn(namespace),
        caches.servicesIn(namespace),
        caches.slicesIn(namespace),
      );
      if (ports.length > 0) servicesPastCounts.set(key, ports.length);
      else servicesPastCounts.delete(key);
      return ports;
    },
    appPort: (key) => {
      const { namespace, name } = splitKey(key);
      const exposure = appPortExposure(name, caches.podsIn(namespace), caches.networkPoliciesIn(namespace));
      if (exposure.kind === 'not_isolated' || exposure.kind === 'admitted') appPortsOpen.set(key, 1);
      else appPortsOpen.delete(key);
      return exposure;
    },
    events,
    isLeader,
    now,
    written: () => metrics.writes.inc({ what: 'status' }),
    recent: new Map(),
  };
  const reconcilers: Record<KeyPrefix, (target: string) => Promise<string>> = {
    app: async (target) => {
      const result = await reconcileApplication(applicationContext, target);
      enqueue(`protection:${target}`); // a new application, or a new leader, says where it stands
      return result;
    },
    protection: async (target) => {
      const result = await reconcileProtection(protectionContext, target);
      // Counted by the leader, for the applications there are.
      if (result === 'skipped') {
        servicesPastCounts.delete(target);
        appPortsOpen.delete(target);
        protectionContext.recent.delete(target);
      }
      return result;
    },
    policy: (target) => reconcilePolicy(applicationContext, caches.policies.get(target)),
    revocation: (target) => reconcileRevocation(revocationContext, target),
    deploy: async (target) => (injection ? injection.reconcileDeployment(target) : 'skipped'),
    webhook: async () => (injection ? injection.reconcileWebhook() : 'skipped'),
    tls: async () => (servingTls ? servingTls.ensure() : 'skipped'),
  };
  queue.start({
    process: async (key) => {
      await synced;
      const prefix = prefixOf(key);
      const kind = KINDS[prefix];
      const end = metrics.reconcileDuration.startTimer({ kind });
      const result = await reconcilers[prefix](key.slice(prefix.length + 1));
      end();
      metrics.reconciles.inc({ kind, result });
    },
    onError: (key, error) => {
      metrics.reconcileErrors.inc({ kind: kindOf(key) });
      log('reconcile_failed', { key, error: errorMessage(error) });
    },
  });

  // 5. Servers: config delivery (and the injection webhook), and the admin port.
  const delivery = createDeliveryServer({
    ...(staticTls ? { tls: { cert: staticTls.cert, key: staticTls.key } } : {}),
    ...(injection ? { admission: injection.admission } : {}),
    hub,
    applicationMissing: (key) => cachesSynced && caches.applications.get(key) === undefined,
    verify: createSidecarVerifier(client, caches.pods),
    sessionEnds: {
      covering: caches.revocationsCovering,
      coveringAccount: caches.accountEndsCovering,
      record: sessionEndRecorder({
        client,
        log,
        written: () => metrics.writes.inc({ what: 'session_end' }),
      }),
      recorded: (application, end) => {
        const name = sessionEndRevocationName(end, application);
        return caches.revocations.get(`/${name}`) ? name : undefined;
      },
    },
    podEvents: podWaitingEvents(events),
    metrics,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
  });
  caches.onPodChange((key, pod) => delivery.podChanged(key, pod));
  servingTls?.onChange((tls) => {
    delivery.setTls(tls.cert, tls.key);
    injection?.caBundleChanged();
  });
  let ready = false;
  void Promise.all([synced, servingTls?.loaded]).then(() => {
    ready = true;
    log('caches_synced', {
      applications: caches.applications.size,
      policies: caches.policies.size,
    });
  });
  /** Set when a shutdown begins: /readyz answers 503 from then on. */
  let stopping = false;
  const admin = createAdminServer(metrics, { ready: () => ready && !stopping });

  // 6. Lifecycle.
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
      // Before anything waits on the caches: a CRD that is missing keeps them from syncing.
      crdCheck = startCrdCheck({
        client,
        log,
        onFinding: (finding) =>
          metrics.crdMatched.set({ crd: finding.crd }, finding.state === 'matched' ? 1 : 0),
        ...(options.crdCheckIntervalMs === undefined ? {} : { intervalMs: options.crdCheckIntervalMs }),
      });
      if (injection) {
        const native = await injection.detectNativeSidecar();
        log('injection_enabled', { nativeSidecar: native });
      }
      const { deliveryListen, adminListen } = options;
      // Every sidecar of the cluster reconnects at once when an operator replica starts.
      const { port: deliveryPort } = await listenOn(
        delivery.server,
        deliveryListen.port,
        deliveryListen.host,
        CROWD_BACKLOG,
        '--listen',
      );
      // Probes and scrapes come over the pod network, where a crowd can fill a short listen queue.
      const { port: adminPort } = await listenOn(
        admin,
        adminListen.port,
        adminListen.host,
        CROWD_BACKLOG,
        '--admin-listen',
      );
      election = startLeaderElection(client, {
        namespace: options.namespace,
        name: LEASE_NAME,
        identity: options.identity,
        ...options.lease,
        onChange: (leader) => {
          metrics.leader.set(leader ? 1 : 0);
          log(leader ? 'leader_elected' : 'leader_lost', { identity: options.identity });
          if (!leader) {
            servicesPastCounts.clear();
            appPortsOpen.clear();
            return;
          }
          caches.requeueEverything();
          injection?.resyncAll();
          servingTls?.refresh();
        },
      });
      return { deliveryPort, adminPort };
    },
    /**
     * Graceful shutdown: not ready at once; the delivery port (webhook reviews, config streams,
     * session ends) and the controllers go on for `delayMs`, for the API server and the sidecars
     * that learn of the Pod's end later than it does; then stop taking work, let running
     * reconciles finish, hand over the Lease, end streams.
     */
    async stop(graceMs = 10_000, delayMs = 0): Promise<void> {
      stopping = true;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      queue.stop();
      await Promise.race([queue.drained(), new Promise((r) => setTimeout(r, graceMs).unref())]);
      caches.stop();
      injection?.stop();
      crdCheck?.stop();
      await election?.release();
      delivery.endStreams();
      delivery.close();
      admin.close();
      await options.connection.dispatcher.close().catch(() => undefined);
    },
  };
}

export type Operator = ReturnType<typeof createOperator>;
