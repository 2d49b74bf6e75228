import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import type { RequestFault } from '../../contract/error-causes.ts';
import { HttpError } from '../../contract/errors.ts';
import { logEvent } from '../../contract/event-writer.ts';
import { revocationTarget } from '../../contract/revocations.ts';
import { DEFAULT_CLIENT_SHARE, DEFAULT_QUEUE_TIMEOUT_MS } from '../../lib/admission.ts';
import { CROWD_BACKLOG, listenOn } from '../../lib/listen.ts';
import type { LogSink } from '../../lib/log/log-sink.ts';
import { createProviderCalls } from './auth/provider-calls.ts';
import type { SessionEnds } from './auth/session-ends.ts';
import { DEFAULT_MAX_HEADER_BYTES } from './auth/session-jar.ts';
import { requestFaultOf } from './http/request-faults.ts';
import { logRequestsInProgress } from './log/in-progress-line.ts';
import type { SidecarMetrics } from './metrics/metrics.ts';
import { MAX_PIPELINED_REQUESTS } from './net/client-connection.ts';
import { createClientConnections } from './net/client-connections.ts';
import type { ClientRateLimits } from './net/client-rate-check.ts';
import type { LiveClosure } from './pipeline/live-closure.ts';
import { createOpenResponses } from './pipeline/open-responses.ts';
import {
  handleProtocolError,
  handleRequest,
  handleUpgrade,
  type PipelineContext,
} from './pipeline/pipeline.ts';
import { CONNECT_REFUSED } from './pipeline/stages/check-request.ts';
import { endForwarded } from './pipeline/stages/proxy.ts';
import {
  createUpgradeRegistry,
  DEFAULT_TUNNEL_LIMITS,
  type TunnelLimits,
} from './pipeline/stages/proxy-upgrade.ts';
import { isReadinessCheck } from './pipeline/stages/readiness-route.ts';
import type { Expectation, RequestScope } from './request-scope.ts';
import { compileRuntimeState, type RuntimeState } from './runtime-state.ts';
import type { UpstreamFairness } from './upstream/upstream.ts';

/** Client-side limits; process-wide, so they are flags rather than per-application config. */
export interface ClientLimits extends ClientRateLimits, UpstreamFairness, TunnelLimits {
  /** Largest request head (request line and headers) accepted; larger gets 431. */
  readonly maxHeaderBytes: number;
  /** Time allowed for a client to send the complete request head; slower gets 408. */
  readonly headersTimeoutMs: number;
  /** Longest silence on a client connection while a request is in progress. */
  readonly idleTimeoutMs: number;
  /** How long an idle keep-alive connection stays open; above typical load balancer idle timeouts. */
  readonly keepAliveTimeoutMs: number;
  /** Most client connections open at once; more are closed on accept. */
  readonly maxConnections: number;
  /**
   * Connections the kernel may hold complete, waiting for the sidecar to accept them (capped by
   * net.core.somaxconn). Past it the kernel drops new handshakes and each client tries again
   * after 1, 3, then 7 s: a burst of new clients while the event loop is busy would wait seconds
   * instead of milliseconds.
   */
  readonly listenBacklog: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = Object.freeze({
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 12_000, // about 16 KiB each when idle: ~190 MiB over the baseline at the cap
  listenBacklog: CROWD_BACKLOG,
  bodyTimeoutMs: 20_000,
  bodyMinRate: 500,
  sendMinRate: 500,
  contendedRate: 65_536,
  requestTimeoutMs: 600_000,
  clientShare: DEFAULT_CLIENT_SHARE,
  queueTimeoutMs: DEFAULT_QUEUE_TIMEOUT_MS,
  maxQueue: 1024,
  ...DEFAULT_TUNNEL_LIMITS,
});

export interface SidecarOptions {
  readonly sink: LogSink;
  readonly metrics: SidecarMetrics;
  readonly limits?: Partial<ClientLimits>;
  /** Where sign-outs and logouts from the provider go beyond this request. */
  readonly sessionEnds?: SessionEnds;
  /**
   * How often a request still in progress (a stream, a tunnel) that has lasted that long gets a
   * `request_in_progress` line; 0: never. Default DEFAULT_IN_PROGRESS_INTERVAL_MS.
   */
  readonly inProgressIntervalMs?: number;
}

/** How often a long request gets a `request_in_progress` line, unless told otherwise. */
export const DEFAULT_IN_PROGRESS_INTERVAL_MS = 60_000;

/** What a shutdown had to cut when its draining time ran out (all zero after a clean drain). */
export interface ShutdownReport {
  readonly requestsCut: number;
  readonly tunnelsCut: number;
  readonly connectionsCut: number;
  readonly upstreamQueued: number;
}

/** The proxy process's core: an HTTP server running the pipeline over the current runtime state. */
export interface Sidecar {
  readonly server: Server;
  /** Builds runtime state for a config and swaps it in atomically; requests in flight keep the state they started with. */
  install(config: SidecarConfig): void;
  /** The config in use, if any. */
  current(): SidecarConfig | undefined;
  /** True with a config installed and not shutting down. */
  ready(): boolean;
  /** Requests and WebSocket upgrades started since the sidecar was created (the idle collection's sign of work). */
  requestsStarted(): number;
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops being ready; goes on accepting and serving for delayMs; then stops accepting, drains
   * in-flight requests, closes what is left and flushes logs, all within graceMs. Resolves with
   * what was still open when the draining time ran out.
   */
  shutdown(graceMs: number, delayMs?: number): Promise<ShutdownReport>;
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return req.method === 'GET' && typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket';
}

const PARSER_STATUS: Record<string, [number, HttpError['code'], string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'Request headers are too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'client_timeout', 'The request was not received in time.'],
};

/** What Node.js's parser reports: its code, its reason (llhttp's fixed text) and the bytes it could not parse. */
type ParserError = NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string };

/** Socket errors that mean the client went away; nothing can be answered. */
const GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

const PIPELINING_LIMIT = new HttpError(
  'pipelining_limit',
  400,
  `More than ${MAX_PIPELINED_REQUESTS} requests pipelined on one connection.`,
);

/** The part of the shutdown grace kept for closing what is left and writing its lines. */
function closingReserveMs(graceMs: number): number {
  return Math.min(1_000, Math.floor(graceMs / 5));
}

/** Creates the sidecar server with Gatehouse's client limits and the request pipeline. */
export function createSidecar(options: SidecarOptions): Sidecar {
  const limits: ClientLimits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };
  const { sink, metrics } = options;
  let state: RuntimeState | undefined;
  /** Set by a shutdown: not ready, still serving (the shutdown's delay). */
  let stopping = false;
  /** Set once the delay is over: no new connections, answers close theirs. */
  let draining = false;
  let inFlight = 0;
  let started = 0;
  let drained: (() => void) | undefined;
  const upgrades = createUpgradeRegistry(
    limits,
    { spanMs: limits.idleTimeoutMs, minRate: limits.sendMinRate },
    () => state,
  );
  const responses = createOpenResponses(
    (scope, why) => endForwarded(scope, why, draining),
    () => state,
  );
  const providerCalls = createProviderCalls();
  const inProgressMs = options.inProgressIntervalMs ?? DEFAULT_IN_PROGRESS_INTERVAL_MS;
  // One sweep an interval over what is open: a request pays nothing for it.
  const inProgressLines =
    inProgressMs > 0
      ? setInterval(
          () => logRequestsInProgress([responses, upgrades], inProgressMs, sink),
          inProgressMs,
        ).unref()
      : undefined;

  /** Work in flight, for the drain; `quiet` work (a load balancer's readiness check) is not a sign of work for the idle collection. */
  const track = (work: Promise<void>, quiet = false): void => {
    inFlight++;
    if (!quiet) started++;
    work.finally(() => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  };

  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0, // bodies are bounded by the read-rate check and the request deadline instead
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1_000,
    requireHostHeader: false, // checked by the pipeline, so the refusal is logged
    joinDuplicateHeaders: false,
    noDelay: true,
    shouldUpgradeCallback: isWebSocketUpgrade,
  });
  // RFC 9112 §9.6: a client may half-close after its request and still read the response.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const connections = createClientConnections(
    server,
    limits,
    {
      maxConnections: limits.maxConnections,
      onDropped: () => metrics.connectionDropped(),
      onEvicted: () => metrics.connectionEvicted(),
    },
    {
      expectedFrom: (peerIp) => state?.proxyProtocolFrom?.has(peerIp) === true,
      required: () => state?.config.proxyProtocol?.optional !== true,
      timeoutMs: limits.headersTimeoutMs,
      // As the parser's refusals: the header timeout is the request header timeout.
      refused: (socket, outcome) =>
        outcome.kind === 'timeout'
          ? refuseConnection(socket, {
              code: 'ERR_HTTP_REQUEST_TIMEOUT',
              sentNothing: outcome.received === 0,
              detail: 'PROXY protocol header not whole in time',
              cause: null,
            })
          : refuseConnection(socket, {
              code: 'ERR_PROXY_HEADER',
              sentNothing: false,
              detail: `PROXY protocol header: ${outcome.reason}`,
              cause: 'proxy_header_invalid',
            }),
    },
  );
  const ctx: PipelineContext = {
    sink,
    metrics,
    upgrades,
    responses,
    connections,
    draining: () => draining,
    ready: () => isReady(),
  };
  const isReady = (): boolean => state !== undefined && !stopping && !state.upstream.admission.stalled();
  metrics.watchCapacity({
    clientConnections: () => connections.size,
    upstreamSlotsInUse: () => state?.upstream.admission.inUse ?? 0,
    upstreamQueued: () => state?.upstream.admission.waiting ?? 0,
    upstreamCertificate: () => state?.upstream.certificate(),
    upstreamClientCertificate: () => state?.upstream.clientCertificate(),
    tunnels: () => upgrades.size,
    ready: () => isReady(),
    activeSessions: () => state?.auth?.sessions.activeCount(Math.floor(Date.now() / 1000)) ?? 0,
  });

  // A connection that made no progress either way for the idle time is cut: reset with a request
  // in progress (its client took nothing of the answer in that time), closed when idle.
  // Not while the application makes its answer, the client has taken every byte of it sent so
  // far, and no body is still due from the client: a long poll, or a stream between two events,
  // is quiet on the application's side, and its timeouts (responseHeaders, idle) bound it. Before, every such answer was cut at this limit,
  // whatever the application's timeouts allowed.
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => {
    const connection = connections.of(socket);
    if (
      connection?.upstreamAnswering &&
      socket.writableLength === 0 &&
      connection.current?.reading() !== 'reading'
    )
      return;
    if (connection) connection.timedOut = true;
    connections.cut(socket);
  });

  const onRequest = (req: IncomingMessage, res: ServerResponse, expectation: Expectation = 'none'): void => {
    const current = state as RuntimeState;
    const connection = connections.of(req.socket);
    // Pipelined requests run one after another, in order; too many at once close the connection.
    const turn = connection?.takeTurn() ?? null;
    if (turn === 'over') {
      // The one over the limit closes the connection and gets its line; what the parser had
      // already read behind it is dropped unhandled, and counted.
      if (req.socket.destroyed) metrics.requestDiscarded();
      else {
        req.socket.destroy();
        handleProtocolError(ctx, current, req.socket, PIPELINING_LIMIT, undefined, req);
      }
      return;
    }
    // A load balancer checking every few seconds must not keep the sidecar from being quiet.
    const quiet = isReadinessCheck(req);
    if (turn === null && !sink.congested) {
      track(handleRequest(ctx, current, req, res, connection ?? null, expectation), quiet);
      return;
    }
    if (turn === null) connection?.announce(); // it begins once the log has drained
    const ahead = turn ?? Promise.resolve();
    track(
      ahead
        .then(() => sink.whenUncongested())
        .then(() => handleRequest(ctx, current, req, res, connection ?? null, expectation)),
      quiet,
    );
  };
  server.on('request', onRequest);
  // Expect: 100-continue. Without this listener Node sends the 100 as the request arrives, so the
  // gateway asked for bodies it then refused; the pipeline sends it where the body is read.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, 'continue'));
  // Any other expectation: without this listener Node answered 417 itself, a request with no line.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    onRequest(req, res, 'unsupported'),
  );
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.setTimeout(0); // an open WebSocket may be quiet for long; the app's pings keep it honest
    const current = state as RuntimeState;
    // HTTP/1.1 order: a pipelined upgrade waits for the responses to the requests ahead of it.
    const ahead = connections.of(socket)?.whenIdle() ?? Promise.resolve();
    track(ahead.then(() => handleUpgrade(ctx, current, req, socket, head)));
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    if (!state) {
      socket.destroy();
      return;
    }
    handleProtocolError(ctx, state, socket, CONNECT_REFUSED, undefined, req);
  });
  server.on('clientError', (error: ParserError, socket: Socket) => {
    const code = error.code ?? '';
    const connection = connections.of(socket);
    if (connection?.protocolError) return; // the parser reports once per connection
    if (connection) connection.protocolError = true;
    // An error inside the body of the request in progress belongs to that request's one line.
    const current = connection?.current;
    if (current && current.reading() !== 'done') {
      current.broken(code, requestFaultOf(code, error.reason ?? ''));
      return;
    }
    if (GONE.has(code)) {
      socket.destroy();
      return;
    }
    refuseConnection(
      socket,
      {
        code,
        // A connection closed by the header timeout before it sent a byte of a request is not a request.
        sentNothing: socket.bytesRead === (connection?.bytesReadMark ?? 0),
        detail: code,
        cause: PARSER_STATUS[code] ? null : requestFaultOf(code, error.reason ?? '', error.rawPacket),
        rawPacket: error.rawPacket,
      },
      // Answers go out in order: after the responses to the requests ahead on this connection.
      connection?.whenIdle(),
    );
  });

  /**
   * Answers and closes a connection whose next request could not be read: a parser error, the
   * header timeout, a PROXY header that broke or did not come whole in time. One that the timeout
   * closed before it sent a byte is no request: closed without a line.
   */
  function refuseConnection(
    socket: Socket,
    refusal: {
      readonly code: string;
      readonly sentNothing: boolean;
      readonly detail: string;
      readonly cause: RequestFault | null;
      readonly rawPacket?: Buffer | undefined;
    },
    ahead?: Promise<void>,
  ): void {
    if (!state || !socket.writable) {
      socket.destroy();
      return;
    }
    if (refusal.code === 'ERR_HTTP_REQUEST_TIMEOUT' && refusal.sentNothing) {
      metrics.idleConnectionClosed();
      socket.destroy();
      return;
    }
    const [status, errorCode, message] = PARSER_STATUS[refusal.code] ?? [
      400,
      'bad_request',
      'Malformed request.',
    ];
    const refused = new HttpError(errorCode, status, message, refusal.detail);
    const installed = state;
    const answer = () =>
      handleProtocolError(ctx, installed, socket, refused, refusal.rawPacket, undefined, refusal.cause);
    if (ahead) void ahead.then(answer);
    else answer();
  }

  return {
    server,
    install(config) {
      const previous = state;
      const next = compileRuntimeState(config, limits, previous, {
        maxHeaderBytes: limits.maxHeaderBytes,
        sessionEnds: options.sessionEnds ?? null,
        providerCalls,
      });
      state = next;
      if (previous && previous.upstream !== next.upstream) previous.upstream.retire();
      const websocketsClosed = new Map<string, number>();
      const responsesClosed = new Map<string, number>();
      if (previous) {
        const closedBy =
          (event: 'websocket_closed' | 'response_closed', counts: Map<string, number>) =>
          (scope: RequestScope, why: LiveClosure): void => {
            if (why.reason === 'session_revoked')
              counts.set(why.revocation, (counts.get(why.revocation) ?? 0) + 1);
            logEvent(sink, event, {
              app: next.appLabel,
              requestId: scope.requestId,
              ...why,
              ...(why.reason === 'session_revoked' ? { sessionId: scope.sessionId } : {}),
              configGeneration: config.generation,
            });
          };
        upgrades.recheck(next, closedBy('websocket_closed', websocketsClosed));
        responses.recheck(next, closedBy('response_closed', responsesClosed));
      }
      for (const revocation of next.revocations.added(previous?.revocations)) {
        metrics.revocationApplied(next.appLabel);
        logEvent(sink, 'revocation_applied', {
          app: next.appLabel,
          revocation: revocation.name,
          ...revocationTarget(revocation),
          revokedBefore: new Date(revocation.before * 1000).toISOString(),
          reason: revocation.reason,
          websocketsClosed: websocketsClosed.get(revocation.name) ?? 0,
          responsesClosed: responsesClosed.get(revocation.name) ?? 0,
        });
      }
      metrics.configInstalled(state.appLabel, config.generation);
    },
    current: () => state?.config,
    ready: () => isReady(),
    requestsStarted: () => started,
    listen: (port, host) => listenOn(server, port, host, limits.listenBacklog, '--listen'),
    async shutdown(graceMs, delayMs = 0) {
      const deadline = performance.now() + graceMs;
      const left = () => Math.max(0, deadline - performance.now());
      // Not ready at once; still accepting and serving through the delay, for the clients (a
      // Service's proxies, an ingress) that learn of the pod's end later than the pod does.
      stopping = true;
      const delay = Math.min(delayMs, graceMs - closingReserveMs(graceMs));
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      draining = true;
      server.close();
      server.closeIdleConnections();
      const waitDrained = (ms: number) =>
        inFlight === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, ms);
              drained = () => {
                clearTimeout(timer);
                resolve();
              };
            });
      await waitDrained(Math.max(0, left() - closingReserveMs(graceMs)));
      const report: ShutdownReport = {
        requestsCut: inFlight,
        tunnelsCut: upgrades.size,
        connectionsCut: connections.size,
        upstreamQueued: state?.upstream.admission.waiting ?? 0,
      };
      // The grace is over: cut whatever is left, at every phase (queued, mid-body, upgrading,
      // tunnels, waiting on an identity provider), so each request writes its line as its socket
      // closes. The calls to providers end first: the requests waiting on them may still answer.
      // Busy client connections are reset, so the kernel drops what it still held for them.
      providerCalls.abortAll();
      await new Promise((resolve) => setImmediate(resolve));
      connections.cutAll();
      upgrades.closeAll();
      server.closeAllConnections();
      if (state) await state.upstream.destroy();
      await waitDrained(left() / 2);
      connections.close();
      clearInterval(inProgressLines);
      await Promise.race([sink.flush(), new Promise((r) => setTimeout(r, left()).unref())]);
      return report;
    },
  };
}
