import { type ErrorCause, kindOfCause } from '../../../contract/error-causes.ts';
import { SESSION_END_GIVEN_UP } from '../../../contract/session-end-outcomes.ts';
import { eventLoopDelayGauges } from '../../../lib/metrics/event-loop-delay.ts';
import { registerProcessMetrics } from '../../../lib/metrics/process-metrics.ts';
import { Counter, Gauge, Registry } from '../../../lib/metrics/prom-core.ts';
import { DEFAULT_IDLE_COLLECTION_AFTER_MS } from '../cli/sidecar-flags.ts';
import { type BatchedHistogram, createBatchedHistogram, type HistogramSeries } from './batched-histogram.ts';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The sidecar's Prometheus instruments. A request adds to plain numbers (counts per status class,
 * histogram buckets, in-flight per application); prom-client gets them when /metrics is scraped.
 */
export interface SidecarMetrics {
  readonly registry: Registry;
  /** A request starts (it counts in flight, and the event loop's delay is sampled). */
  requestStarted(app: string): void;
  /** Work other than a request starts (a config to apply): the event loop's delay is sampled. */
  workStarted(): void;
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
  /** A connection closed on accept: --max-connections were open and every one was busy. */
  connectionDropped(): void;
  /** An idle connection closed to make room for a new one at --max-connections. */
  connectionEvicted(): void;
  /** A request read on a connection already closed for pipelining too many (no log line). */
  requestDiscarded(): void;
  /** Reads the sidecar's held resources at scrape time. */
  watchCapacity(source: CapacitySource): void;
  /** An auth event (sign-in, its failure by reason, refresh, sign-out, session end, credential failure). */
  authEvent(app: string, event: string, reason: string | null): void;
  /** Why a request errored, where its code has several causes (the line's errorCause). */
  errorCaused(app: string, cause: ErrorCause): void;
  /** A revocation reached this sidecar. */
  revocationApplied(app: string): void;
  /** Set-Cookie lines of the application's responses dropped for naming a Gatehouse cookie. */
  upstreamCookiesDropped(app: string, count: number): void;
  /** A request came with X-Forwarded-For from a peer not in spec.trustedProxies. */
  forwardedForUntrusted(app: string): void;
  /** The operator's config stream opened (true) or broke (false); cluster mode only. */
  configStreamConnected(connected: boolean): void;
  /**
   * The operator said why it has no config for this sidecar (`waiting`: its reason, and whether
   * the sidecar serves a config it had before), or undefined once a config is installed; cluster
   * mode only.
   */
  configWaiting(waiting: { readonly reason: string; readonly serving: boolean } | undefined): void;
  /** A memory-reducing collection ran while the sidecar was quiet, taking this many seconds. */
  idleCollected(seconds: number): void;
  /** Session ends this sidecar carries to the others (a reporter exists): how many wait for a round. */
  watchSessionEnds(delayed: () => number): void;
  /** Adds the gauge of whether the application listens beyond loopback (once it is first seen listening). */
  watchApplicationPort(open: () => boolean): void;
  /** A session end will not be tried again: it held in this sidecar only. */
  sessionEndUnreported(reason: string): void;
}

/** When a certificate expires (epoch seconds), and the name the upstream is checked for. */
type Expiry = { readonly serverName: string; readonly notAfter: number };

/** What clients hold right now, read when metrics are scraped. */
export interface CapacitySource {
  clientConnections(): number;
  upstreamSlotsInUse(): number;
  upstreamQueued(): number;
  tunnels(): number;
  /** Whether the sidecar is ready (what /readyz answers). */
  ready(): boolean;
  /** An https upstream's certificate as its latest connection presented it; undefined for http. */
  upstreamCertificate(): Expiry | undefined;
  /** The client certificate presented to the upstream (mutual TLS); undefined without. */
  upstreamClientCertificate(): Expiry | undefined;
  /** Sessions held open now by the application's session cache. */
  activeSessions(): number;
}

/** The status_class label values, by index (status / 100 - 1; the last for anything else). */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;

/** Requests finished with one label set since the last scrape. */
interface FinishedCell {
  readonly labels: { readonly app: string; readonly decision: string; readonly status_class: string };
  pending: number;
}

/**
 * How often the event loop's delay is sampled for the gatehouse_process_nodejs_eventloop_lag_*
 * gauges while the sidecar has work (lib/metrics/event-loop-delay.ts). prom-client's default of
 * 10 ms, always on, woke a sidecar at rest 100 times a second: 12 to 15 ms of CPU a second, over 1%
 * of a core in every pod doing nothing (docs/benchmarks.md). Every 100 ms: a scrape every 15 s
 * still summarises 150 samples, and a stall of 100 ms or more always shows (as at least its length
 * less 100 ms).
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export interface SidecarMetricsOptions {
  /**
   * Quiet time after which the event loop's delay is no longer sampled (between one and two of
   * it after the last request or config started); by default --idle-collection-after's default.
   */
  readonly eventLoopQuietMs?: number;
}

/** Creates the registry and instruments (plus Node.js process metrics). */
export function createSidecarMetrics(options: SidecarMetricsOptions = {}): SidecarMetrics {
  const registry = new Registry();
  registerProcessMetrics(registry, 'gatehouse_process_');
  const loopDelay = eventLoopDelayGauges({
    registry,
    prefix: 'gatehouse_process_',
    resolutionMs: EVENT_LOOP_SAMPLE_MS,
    quietMs: options.eventLoopQuietMs ?? DEFAULT_IDLE_COLLECTION_AFTER_MS,
  });
  new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests handled, by application, decision and status class.',
    labelNames: ['app', 'decision', 'status_class'],
    registers: [registry],
    collect() {
      // Counts since the last scrape, added once (a counter only ever goes up), in the order the
      // label sets first appeared, as prom-client lists them when counted one by one.
      for (const cell of cells)
        if (cell.pending > 0) {
          this.inc(cell.labels, cell.pending);
          cell.pending = 0;
        }
    },
  });
  // Per-request instruments keep plain numbers and hand them to prom-client when scraped.
  /** Requests finished since the last scrape, per label set; cells in order of first use. */
  const finished = new Map<string, Map<string, (FinishedCell | undefined)[]>>();
  const cells: FinishedCell[] = [];
  const inFlightByApp = new Map<string, number>();
  const duration = createBatchedHistogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from request start to the last byte sent (or the connection closed).',
    labelName: 'app',
    buckets: DURATION_BUCKETS,
    registry,
  });
  const upstream = createBatchedHistogram({
    name: 'gatehouse_upstream_duration_seconds',
    help: 'Time from sending the request upstream until its response headers arrived.',
    labelName: 'app',
    buckets: DURATION_BUCKETS,
    registry,
  });
  new Gauge({
    name: 'gatehouse_requests_in_flight',
    help: 'Requests (and open WebSocket tunnels) currently being handled.',
    labelNames: ['app'],
    registers: [registry],
    collect() {
      for (const [app, n] of inFlightByApp) this.set({ app }, n);
    },
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
    help: 'Client connections closed on accept because the connection cap (--max-connections) was reached with every connection busy.',
    registers: [registry],
  });
  const evicted = new Counter({
    name: 'gatehouse_client_connections_evicted_total',
    help: 'Idle client connections (no request in progress) closed to make room for a new one at the connection cap (--max-connections).',
    registers: [registry],
  });
  const discarded = new Counter({
    name: 'gatehouse_client_requests_discarded_total',
    help: 'Requests read behind the one that closed its connection for pipelining too many (never handled, no log line).',
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
  /** When a certificate of the upstream's TLS expires, by the name the upstream is checked for. */
  const expiry = (name: string, help: string, read: (c: CapacitySource) => Expiry | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['server_name'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const certificate = capacity ? read(capacity) : undefined;
        if (certificate) this.labels(certificate.serverName).set(certificate.notAfter);
      },
    });
  };
  expiry(
    'gatehouse_upstream_certificate_expiry_timestamp_seconds',
    "When an https upstream's certificate expires (Unix seconds), as its latest connection presented it, by the name checked; no series for an http upstream.",
    (c) => c.upstreamCertificate(),
  );
  expiry(
    'gatehouse_upstream_client_certificate_expiry_timestamp_seconds',
    'When the client certificate the sidecar presents to an https upstream expires (Unix seconds; spec.upstream.tls.clientCertificateSecretRef), by the name the upstream is checked for; no series without one.',
    (c) => c.upstreamClientCertificate(),
  );
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
  const upstreamFailures = new Counter({
    name: 'gatehouse_upstream_failures_total',
    help: 'Requests the application failed, by application and why (connect_refused, reset, closed_before_response, headers_timeout, invalid_response, ...: the errorCause of their log lines).',
    labelNames: ['app', 'failure'],
    registers: [registry],
  });
  const malformedRequests = new Counter({
    name: 'gatehouse_malformed_requests_total',
    help: 'Requests the HTTP parser refused (400 bad_request), by application and what it refused (conflicting_length, invalid_line_ending, invalid_header, tls_to_plain_port, ...: the errorCause of their log lines).',
    labelNames: ['app', 'cause'],
    registers: [registry],
  });
  const overloadRefusals = new Counter({
    name: 'gatehouse_overload_refusals_total',
    help: 'Requests refused for want of room (503 upstream_busy, tunnel_limit), by application and why (queue_full, caller_queue_full, queue_timeout, tunnels_full, anonymous_tunnels_full, caller_tunnels_full: the errorCause of their log lines).',
    labelNames: ['app', 'cause'],
    registers: [registry],
  });
  const slowClients = new Counter({
    name: 'gatehouse_slow_clients_cut_total',
    help: 'Requests cut because their clients were too slow: a response, or what the application of a WebSocket sent, taken under the minimum rate (under_min_rate), or a body sent or a response taken under the contended rate while another caller waited for the upstream connection (upstream_wanted); by application and why (the errorCause of their log lines).',
    labelNames: ['app', 'cause'],
    registers: [registry],
  });
  /**
   * Each kind of cause counted by its own metric: the application's, the parser's, the gateway's,
   * the slow clients'.
   */
  const countedCauses = {
    upstream: upstreamFailures,
    request: malformedRequests,
    overload: overloadRefusals,
    slow_client: slowClients,
  };
  const upstreamCookiesDropped = new Counter({
    name: 'gatehouse_upstream_cookies_dropped_total',
    help: "Set-Cookie lines of the application's responses dropped because they named one of Gatehouse's cookies (its session, a sign-in in progress), by application.",
    labelNames: ['app'],
    registers: [registry],
  });
  /** Requests with X-Forwarded-For from an untrusted peer since the last scrape, per application. */
  const forwardedUntrusted = new Map<string, number>();
  new Counter({
    name: 'gatehouse_forwarded_for_untrusted_total',
    help: 'Requests that came with X-Forwarded-For from a peer not in spec.trustedProxies (the header not read: the peer stands for the client), by application. Nearly all of them: an ingress or load balancer is missing from the list (the forwarded_for_untrusted event names it).',
    labelNames: ['app'],
    registers: [registry],
    collect() {
      for (const [app, n] of forwardedUntrusted)
        if (n > 0) {
          this.inc({ app }, n);
          forwardedUntrusted.set(app, 0);
        }
    },
  });
  const revocations = new Counter({
    name: 'gatehouse_revocations_applied_total',
    help: 'Revocations (user revocations, sign-outs and logouts from the provider elsewhere) that reached this sidecar.',
    labelNames: ['app'],
    registers: [registry],
  });
  const idleCollections = new Counter({
    name: 'gatehouse_idle_collections_total',
    help: 'Memory-reducing garbage collections run while no request was starting (--idle-collection-after).',
    registers: [registry],
  });
  const idleCollectionSeconds = new Counter({
    name: 'gatehouse_idle_collection_seconds_total',
    help: 'Time spent in those collections; a request that arrived during one waited for it.',
    registers: [registry],
  });
  // Registered at the first stream event, so a standalone sidecar does not report a broken stream.
  const sessionEndsUnreported = new Counter({
    name: 'gatehouse_session_ends_unreported_total',
    help: 'Sign-outs and logouts from the provider that will not be tried again, by reason (refused, sessions_expired, too_many_delayed, shutting_down): each held in this sidecar only.',
    labelNames: ['reason'],
    registers: [],
  });
  let streamConnected: Gauge<string> | undefined;
  let waitingFor: Gauge<'reason' | 'serving'> | undefined;

  const durations = new Map<string, HistogramSeries>();
  const upstreams = new Map<string, HistogramSeries>();
  const seriesOf = (histogram: BatchedHistogram, cache: Map<string, HistogramSeries>, app: string) => {
    let s = cache.get(app);
    if (s === undefined) {
      s = histogram.series(app);
      cache.set(app, s);
    }
    return s;
  };
  const cellOf = (app: string, decision: string, statusClass: number): FinishedCell => {
    let byDecision = finished.get(app);
    if (byDecision === undefined) {
      byDecision = new Map();
      finished.set(app, byDecision);
    }
    let byClass = byDecision.get(decision);
    if (byClass === undefined) {
      byClass = [];
      byDecision.set(decision, byClass);
    }
    let cell = byClass[statusClass];
    if (cell === undefined) {
      cell = { labels: { app, decision, status_class: STATUS_CLASSES[statusClass] as string }, pending: 0 };
      byClass[statusClass] = cell;
      cells.push(cell);
    }
    return cell;
  };

  return {
    registry,
    requestStarted(app) {
      loopDelay.busy();
      inFlightByApp.set(app, (inFlightByApp.get(app) ?? 0) + 1);
    },
    requestFinished(app, decision, status, durationS, upstreamS) {
      const statusClass =
        status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : STATUS_CLASSES.length - 1;
      cellOf(app, decision, statusClass).pending += 1;
      seriesOf(duration, durations, app).observe(durationS);
      if (upstreamS !== null) seriesOf(upstream, upstreams, app).observe(upstreamS);
      inFlightByApp.set(app, (inFlightByApp.get(app) ?? 0) - 1);
    },
    workStarted() {
      loopDelay.busy();
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
    connectionEvicted() {
      evicted.inc();
    },
    requestDiscarded() {
      discarded.inc();
    },
    watchCapacity(source) {
      capacity = source;
    },
    authEvent(app, event, reason) {
      authEvents.labels(app, event, reason ?? '').inc();
    },
    errorCaused(app, cause) {
      const kind = kindOfCause(cause);
      // A sign-in's is counted with its event (gatehouse_auth_events_total).
      if (kind !== 'login') countedCauses[kind].labels(app, cause).inc();
    },
    revocationApplied(app) {
      revocations.labels(app).inc();
    },
    forwardedForUntrusted(app) {
      forwardedUntrusted.set(app, (forwardedUntrusted.get(app) ?? 0) + 1);
    },
    upstreamCookiesDropped(app, count) {
      upstreamCookiesDropped.labels(app).inc(count);
    },
    configStreamConnected(connected) {
      streamConnected ??= new Gauge({
        name: 'gatehouse_config_stream_connected',
        help: "1 while the operator's config stream is open, 0 while it is broken (cluster mode only).",
        registers: [registry],
      });
      streamConnected.set(connected ? 1 : 0);
    },
    configWaiting(waiting) {
      if (!waiting && !waitingFor) return;
      waitingFor ??= new Gauge({
        name: 'gatehouse_config_waiting',
        help: "1 while the operator has no config for this sidecar's application, labelled with the reason it gives (ApplicationNotFound, ProviderSecretMissing, InvalidSpec, ...) and whether the sidecar serves a config it had before (cluster mode only).",
        labelNames: ['reason', 'serving'] as const,
        registers: [registry],
      });
      waitingFor.reset();
      if (waiting) waitingFor.labels(waiting.reason, String(waiting.serving)).set(1);
    },
    idleCollected(seconds) {
      idleCollections.inc();
      idleCollectionSeconds.inc(seconds);
    },
    watchApplicationPort(open) {
      new Gauge({
        name: 'gatehouse_application_port_open',
        help: 'Whether the application behind the sidecar also listens beyond loopback (1), where any pod of the cluster reaches it past the sidecar, or on loopback only (0); no series until it is first seen listening, nor for an upstream not on loopback.',
        registers: [registry],
        collect() {
          this.set(open() ? 1 : 0);
        },
      });
    },
    watchSessionEnds(delayed) {
      new Gauge({
        name: 'gatehouse_session_ends_delayed',
        help: 'Sign-outs and logouts from the provider whose first round of reports failed, waiting for another: they hold in this sidecar only until one gets through.',
        registers: [registry],
        collect() {
          this.set(delayed());
        },
      });
      registry.registerMetric(sessionEndsUnreported);
      // Present from the start, so that an alert on its increase sees the first one.
      for (const reason of SESSION_END_GIVEN_UP) sessionEndsUnreported.labels(reason).inc(0);
    },
    sessionEndUnreported(reason) {
      sessionEndsUnreported.labels(reason).inc();
    },
  };
}
