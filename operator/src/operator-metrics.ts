import { Counter, Gauge, Histogram, Registry } from '../../lib/metrics/prom-core.ts';

/** Values read when Prometheus scrapes. */
export interface MetricSources {
  queueDepth(): number;
  /** Applications by Ready status (True, False, Unknown). */
  applicationsByReady(): Record<string, number>;
  /** Pods running without the sidecar, by application (namespace/name); those with none absent. */
  podsWithoutSidecar(): ReadonlyMap<string, number>;
  /** Service ports that reach an application past its sidecar, by application (namespace/name). */
  servicesPastSidecar(): ReadonlyMap<string, number>;
  /** Applications whose own port NetworkPolicies leave open to the cluster (1 each), by application. */
  appPortsOpen(): ReadonlyMap<string, number>;
}

/** A gauge by application, read at each scrape from counts keyed `namespace/name` (none: no series). */
function applicationGauge(
  registry: Registry,
  name: string,
  help: string,
  counts: () => ReadonlyMap<string, number>,
): void {
  new Gauge({
    name,
    help,
    labelNames: ['namespace', 'application'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of counts()) {
        const slash = key.indexOf('/');
        this.set({ namespace: key.slice(0, slash), application: key.slice(slash + 1) }, count);
      }
    },
  });
}

/** The operator's Prometheus metrics, on their own registry. */
export function createOperatorMetrics(sources: MetricSources) {
  const registry = new Registry();
  const reconciles = new Counter({
    name: 'gatehouse_operator_reconciles_total',
    help: 'Reconciles by kind and result (ready, not_ready, skipped, error).',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });
  const reconcileErrors = new Counter({
    name: 'gatehouse_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were retried.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'gatehouse_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took.',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const writes = new Counter({
    name: 'gatehouse_operator_writes_total',
    help: 'Writes to the API server by what was written (status, keys, tls_secret, ca_bundle, deployment_labels, revocation_delete).',
    labelNames: ['what'] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'gatehouse_operator_queue_depth',
    help: 'Keys waiting in the work queue, running, or waiting for a retry.',
    registers: [registry],
    collect() {
      this.set(sources.queueDepth());
    },
  });
  const connectedSidecars = new Gauge({
    name: 'gatehouse_operator_connected_sidecars',
    help: 'Sidecar config streams open on this replica.',
    registers: [registry],
  });
  const configPushes = new Counter({
    name: 'gatehouse_operator_config_pushes_total',
    help: 'Config changes sent to sidecar streams.',
    registers: [registry],
  });
  const sessionEnds = new Counter({
    name: 'gatehouse_operator_session_ends_total',
    help: 'Session ends sidecars reported (sign-outs, logouts from the provider), by outcome: recorded (an AccessRevocation written), already (recorded before: sent again), full (8,000 revocations cover the application), account_full (50 of its account in force), rate_limited, invalid.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const streamRefusals = new Counter({
    name: 'gatehouse_operator_stream_refusals_total',
    help: 'Config stream requests refused, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const deliveryConnectionsRefused = new Counter({
    name: 'gatehouse_operator_delivery_connections_refused_total',
    help: 'Connections to the delivery port cut on accept, by reason: their address held its share (share), or opened connections faster than its rate (rate).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const deliveryBodyBytes = new Gauge({
    name: 'gatehouse_operator_delivery_body_bytes',
    help: 'Bytes of request bodies (webhook reviews, session ends) the delivery port holds in memory now.',
    registers: [registry],
  });
  const streamsEnded = new Counter({
    name: 'gatehouse_operator_streams_ended_total',
    help: 'Open config streams the operator ended because their sidecar may no longer read them, by reason (pod_gone, token_expired, token_invalid, ...).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: 'gatehouse_operator_watch_restarts_total',
    help: 'Watch restarts by resource and reason (expired, stalled, error, resync).',
    labelNames: ['resource', 'reason'] as const,
    registers: [registry],
  });
  const leader = new Gauge({
    name: 'gatehouse_operator_leader',
    help: '1 when this replica holds the Lease and writes, else 0.',
    registers: [registry],
  });
  const applications = new Gauge({
    name: 'gatehouse_operator_applications',
    help: 'AccessApplications by Ready status.',
    labelNames: ['ready'] as const,
    registers: [registry],
    collect() {
      for (const [ready, count] of Object.entries(sources.applicationsByReady())) this.set({ ready }, count);
    },
  });
  applicationGauge(
    registry,
    'gatehouse_operator_pods_without_sidecar',
    'Pods labelled with an application that run without the Gatehouse sidecar: their Service port reaches the application unprotected.',
    sources.podsWithoutSidecar,
  );
  applicationGauge(
    registry,
    'gatehouse_operator_services_past_sidecar',
    'Service ports that select an injected pod of the application and target its own port, past the sidecar (the leader counts them).',
    sources.servicesPastSidecar,
  );
  applicationGauge(
    registry,
    'gatehouse_operator_app_port_open',
    '1 for an application whose own port no NetworkPolicy closes to the cluster: an injected pod no policy isolates, or a rule that admits the port (its AppPortClosed condition is False; the leader counts them).',
    sources.appPortsOpen,
  );
  const crdMatched = new Gauge({
    name: 'gatehouse_operator_crd_matched',
    help: 'Whether the installed CRD is the one of this operator version (1), or another version, missing or unreadable (0); checked every minute.',
    labelNames: ['crd'] as const,
    registers: [registry],
  });
  const injections = new Counter({
    name: 'gatehouse_operator_injections_total',
    help: 'Pods seen by the injection webhook, by result (injected, skipped, refused).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const reviewsWaiting = new Gauge({
    name: 'gatehouse_operator_webhook_reviews_waiting',
    help: 'Webhook reviews read and waiting for their turn on the thread (one runs at a time, shared by client address).',
    registers: [registry],
  });
  const reviewRefusals = new Counter({
    name: 'gatehouse_operator_webhook_refusals_total',
    help: 'Webhook requests answered without a decision, by reason (busy, late, invalid).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const servingCertificateExpiry = new Gauge({
    name: 'gatehouse_operator_serving_certificate_expiry_timestamp_seconds',
    help: 'When the serving certificate this replica presents expires (Unix seconds).',
    registers: [registry],
  });
  return {
    registry,
    injections,
    reviewsWaiting,
    reviewRefusals,
    servingCertificateExpiry,
    reconciles,
    reconcileErrors,
    reconcileDuration,
    writes,
    queueDepth,
    connectedSidecars,
    configPushes,
    streamRefusals,
    sessionEnds,
    deliveryConnectionsRefused,
    deliveryBodyBytes,
    streamsEnded,
    watchRestarts,
    leader,
    applications,
    crdMatched,
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
