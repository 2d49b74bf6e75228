import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SidecarConfig } from './config/sidecar-config.ts';
import { HttpError } from './errors.ts';
import { logEvent } from './log/events.ts';
import type { LogSink } from './log/log-sink.ts';
import type { SidecarMetrics } from './metrics/metrics.ts';
import { listenOn } from './net/listen.ts';
import {
  handleProtocolError,
  handleRequest,
  handleUpgrade,
  type PipelineContext,
} from './pipeline/pipeline.ts';
import { timedOutSockets } from './pipeline/stages/proxy.ts';
import { createUpgradeRegistry } from './pipeline/stages/proxy-upgrade.ts';
import { compileRuntimeState, type RuntimeState } from './runtime-state.ts';

/** Client-side limits; process-wide, so they are flags rather than per-application config. */
export interface ClientLimits {
  /** Largest request head (request line and headers) accepted; larger gets 431. */
  readonly maxHeaderBytes: number;
  /** Time allowed for a client to send the complete request head; slower gets 408. */
  readonly headersTimeoutMs: number;
  /** Longest silence on a client connection while a request is in progress. */
  readonly idleTimeoutMs: number;
  /** How long an idle keep-alive connection stays open; above typical load balancer idle timeouts. */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
});

export interface SidecarOptions {
  readonly sink: LogSink;
  readonly metrics: SidecarMetrics;
  readonly limits?: Partial<ClientLimits>;
}

/** The proxy process's core: an HTTP server running the pipeline over the current runtime state. */
export interface Sidecar {
  readonly server: Server;
  /** Builds runtime state for a config and swaps it in atomically; requests in flight keep the state they started with. */
  install(config: SidecarConfig): void;
  /** The config in use, if any. */
  current(): SidecarConfig | undefined;
  /** True with a config installed and not draining. */
  ready(): boolean;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, drains in-flight requests for up to graceMs, then closes what is left and flushes logs. */
  shutdown(graceMs: number): Promise<void>;
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return req.method === 'GET' && typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket';
}

const PARSER_STATUS: Record<string, [number, HttpError['code'], string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'Request headers are too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'client_timeout', 'The request was not received in time.'],
};

/** Creates the sidecar server with Gatehouse's client limits and the request pipeline. */
export function createSidecar(options: SidecarOptions): Sidecar {
  const limits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };
  const { sink, metrics } = options;
  let state: RuntimeState | undefined;
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const upgrades = createUpgradeRegistry();
  const ctx: PipelineContext = { sink, metrics, upgrades, draining: () => draining };

  const track = (work: Promise<void>): void => {
    inFlight++;
    work.finally(() => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  };

  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0, // large uploads are bounded by the idle timeout instead of a total deadline
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1_000,
    requireHostHeader: false, // checked by the pipeline, so the refusal is logged
    joinDuplicateHeaders: false,
    noDelay: true,
    shouldUpgradeCallback: isWebSocketUpgrade,
  });
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => {
    timedOutSockets.add(socket);
    socket.destroy();
  });

  server.on('request', (req, res) => {
    const current = state as RuntimeState;
    if (sink.congested) track(sink.whenUncongested().then(() => handleRequest(ctx, current, req, res)));
    else track(handleRequest(ctx, current, req, res));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.setTimeout(0); // an open WebSocket may be quiet for long; the app's pings keep it honest
    track(handleUpgrade(ctx, state as RuntimeState, req, socket, head));
  });
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    const code = error.code ?? '';
    if (!state || code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, errorCode, message] = PARSER_STATUS[code] ?? [400, 'bad_request', 'Malformed request.'];
    handleProtocolError(ctx, state, socket, new HttpError(errorCode, status, message, code), error.rawPacket);
  });

  return {
    server,
    install(config) {
      const previous = state;
      const next = compileRuntimeState(config, previous);
      state = next;
      if (previous && previous.upstream !== next.upstream) previous.upstream.retire();
      const closedBy = new Map<string, number>();
      if (previous) {
        upgrades.recheck(next, (scope, why) => {
          if (why.reason === 'session_revoked')
            closedBy.set(why.revocation, (closedBy.get(why.revocation) ?? 0) + 1);
          logEvent(sink, 'websocket_closed', {
            app: next.appLabel,
            requestId: scope.requestId,
            ...why,
            ...(why.reason === 'session_revoked' ? { sessionId: scope.sessionId } : {}),
            configGeneration: config.generation,
          });
        });
      }
      for (const revocation of next.revocations.added(previous?.revocations))
        logEvent(sink, 'revocation_applied', {
          app: next.appLabel,
          revocation: revocation.name,
          ...(revocation.user === null
            ? { subject: revocation.subject, provider: revocation.provider }
            : { user: revocation.user }),
          revokedBefore: new Date(revocation.before * 1000).toISOString(),
          reason: revocation.reason,
          websocketsClosed: closedBy.get(revocation.name) ?? 0,
        });
      metrics.configInstalled(state.appLabel, config.generation);
    },
    current: () => state?.config,
    ready: () => state !== undefined && !draining,
    listen: (port, host) => listenOn(server, port, host),
    async shutdown(graceMs) {
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
      await waitDrained(graceMs);
      upgrades.closeAll();
      server.closeAllConnections();
      // Requests cut at the deadline still write their lines as their sockets close.
      await waitDrained(1_000);
      if (state) await state.upstream.pool.close().catch(() => undefined);
      await sink.flush();
    },
  };
}
