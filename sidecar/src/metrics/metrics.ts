import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The sidecar's Prometheus instruments; children are cached so a request pays no label hashing. */
export interface SidecarMetrics {
  readonly registry: Registry;
  requestStarted(app: string): void;
  requestFinished(
    app: string,
    decision: string,
    status: number,
    durationS: number,
    upstreamS: number | null,
  ): void;
  configReloaded(ok: boolean): void;
  configInstalled(app: string, generation: string): void;
  /** A connection closed by the header timeout before it sent a byte of a request (no log line). */
  idleConnectionClosed(): void;
  /** A connection closed on accept because --max-connections were open. */
  connectionDropped(): void;
  /** Reads the sidecar's held resources at scrape time. */
  watchCapacity(source: CapacitySource): void;
  /** An auth event (sign-in, its failure by reason, refresh, sign-out, session end, credential failure). */
  authEvent(app: string, event: string, reason: string | null): void;
  /** A revocation reached this sidecar. */
  revocationApplied(app: string): void;
  /** The operator's config stream opened (true) or broke (false); cluster mode only. */
  configStreamConnected(connected: boolean): void;
}

/** What clients hold right now, read when metrics are scraped. */
export interface CapacitySource {
  clientConnections(): number;
  upstreamSlotsInUse(): number;
  upstreamQueued(): number;
  tunnels(): number;
  /** Whether the sidecar is ready (what /readyz answers). */
  ready(): boolean;
  /** Sessions held open now by the application's session cache. */
  activeSessions(): number;
}

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;
type GaugeChild = ReturnType<Gauge<string>['labels']>;

/** Creates the registry and instruments (plus Node.js process metrics). */
export function createSidecarMetrics(): SidecarMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  const requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests handled, by application, decision and status class.',
    labelNames: ['app', 'decision', 'status_class'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from request start to the last byte sent (or the connection closed).',
    labelNames: ['app'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: 'gatehouse_upstream_duration_seconds',
    help: 'Time from sending the request upstream until its response headers arrived.',
    labelNames: ['app'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'gatehouse_requests_in_flight',
    help: 'Requests (and open WebSocket tunnels) currently being handled.',
    labelNames: ['app'],
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'gatehouse_config_reloads_total',
    help: 'Configuration changes seen after start, by result (applied or rejected).',
    labelNames: ['result'],
    registers: [registry],
  });
  const info = new Gauge({
    name: 'gatehouse_config_info',
    help: 'The configuration in use: 1 for the current application and generation.',
    labelNames: ['app', 'generation'],
    registers: [registry],
  });
  const loadedAt = new Gauge({
    name: 'gatehouse_config_last_applied_timestamp_seconds',
    help: 'When the configuration in use was applied.',
    registers: [registry],
  });

  const idleClosed = new Counter({
    name: 'gatehouse_client_connections_idle_closed_total',
    help: 'Client connections closed by the header timeout before sending a byte of a request.',
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'gatehouse_client_connections_dropped_total',
    help: 'Client connections closed on accept because the connection cap (--max-connections) was reached.',
    registers: [registry],
  });
  let capacity: CapacitySource | undefined;
  const held = (name: string, help: string, read: (c: CapacitySource) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(capacity ? read(capacity) : 0);
      },
    });
  };
  held('gatehouse_client_connections', 'Client connections open.', (c) => c.clientConnections());
  held(
    'gatehouse_upstream_slots_in_use',
    'Upstream pool slots held by requests (admitted and not finished).',
    (c) => c.upstreamSlotsInUse(),
  );
  held('gatehouse_upstream_queue_length', 'Requests waiting for an upstream pool slot.', (c) =>
    c.upstreamQueued(),
  );
  held('gatehouse_websocket_tunnels', 'WebSocket tunnels open or opening.', (c) => c.tunnels());
  held('gatehouse_ready', '1 when the sidecar is ready to serve (what /readyz answers), else 0.', (c) =>
    c.ready() ? 1 : 0,
  );
  held(
    'gatehouse_sessions_active',
    'Signed-in sessions this sidecar holds open now (not ended or expired, active within the idle timeout).',
    (c) => c.activeSessions(),
  );
  const authEvents = new Counter({
    name: 'gatehouse_auth_events_total',
    help: 'Auth events by application, event (login_succeeded, login_failed, session_refreshed, logout, backchannel_logout, ...) and reason code ("" when the event has none).',
    labelNames: ['app', 'event', 'reason'],
    registers: [registry],
  });
  const revocations = new Counter({
    name: 'gatehouse_revocations_applied_total',
    help: 'Revocations (user revocations, sign-outs and back-channel logouts elsewhere) that reached this sidecar.',
    labelNames: ['app'],
    registers: [registry],
  });
  // Registered at the first stream event, so a standalone sidecar does not report a broken stream.
  let streamConnected: Gauge<string> | undefined;

  const counters = new Map<string, CounterChild>();
  const durations = new Map<string, HistogramChild>();
  const upstreams = new Map<string, HistogramChild>();
  const gauges = new Map<string, GaugeChild>();
  const child = <T>(cache: Map<string, T>, key: string, make: () => T): T => {
    let c = cache.get(key);
    if (c === undefined) {
      c = make();
      cache.set(key, c);
    }
    return c;
  };

  return {
    registry,
    requestStarted(app) {
      child(gauges, app, () => inFlight.labels(app)).inc();
    },
    requestFinished(app, decision, status, durationS, upstreamS) {
      const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
      const key = `${app}\0${decision}\0${statusClass}`;
      child(counters, key, () => requests.labels(app, decision, statusClass)).inc();
      child(durations, app, () => duration.labels(app)).observe(durationS);
      if (upstreamS !== null) child(upstreams, app, () => upstream.labels(app)).observe(upstreamS);
      child(gauges, app, () => inFlight.labels(app)).dec();
    },
    configReloaded(ok) {
      reloads.labels(ok ? 'applied' : 'rejected').inc();
    },
    configInstalled(app, generation) {
      info.reset();
      info.labels(app, generation).set(1);
      loadedAt.set(Date.now() / 1000);
    },
    idleConnectionClosed() {
      idleClosed.inc();
    },
    connectionDropped() {
      dropped.inc();
    },
    watchCapacity(source) {
      capacity = source;
    },
    authEvent(app, event, reason) {
      authEvents.labels(app, event, reason ?? '').inc();
    },
    revocationApplied(app) {
      revocations.labels(app).inc();
    },
    configStreamConnected(connected) {
      streamConnected ??= new Gauge({
        name: 'gatehouse_config_stream_connected',
        help: "1 while the operator's config stream is open, 0 while it is broken (cluster mode only).",
        registers: [registry],
      });
      streamConnected.set(connected ? 1 : 0);
    },
  };
}
