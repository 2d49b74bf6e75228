import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestFault } from '../../../contract/error-causes.ts';
import type { HttpError } from '../../../contract/errors.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { signInsEndedByOverflow } from '../auth/login-flow.ts';
import { sendError, sendLocal, sendRawError, sendRawPage } from '../http/error-response.ts';
import { LocalResponse } from '../http/local-response.ts';
import { newRequestId } from '../http/random-ids.ts';
import { responseGone } from '../http/response-gone.ts';
import type { SidecarMetrics } from '../metrics/metrics.ts';
import type { ClientConnection } from '../net/client-connection.ts';
import type { ClientConnections } from '../net/client-connections.ts';
import { type Expectation, RequestScope } from '../request-scope.ts';
import type { RuntimeState } from '../runtime-state.ts';
import { gatewayFault } from '../upstream/upstream-errors.ts';
import { registerWithConnection } from './connection-request.ts';
import { logRequest } from './log-request.ts';
import type { OpenResponses } from './open-responses.ts';
import { assignRequestId } from './stages/assign-request-id.ts';
import { assignTraceContext } from './stages/assign-trace-context.ts';
import { authenticate } from './stages/authenticate.ts';
import { authorize } from './stages/authorize.ts';
import { checkRequest } from './stages/check-request.ts';
import { forwardingHeaders } from './stages/forwarding-headers.ts';
import { GATEWAY_ROUTE_NOT_UPGRADABLE, gatewayRoutes } from './stages/gateway-routes.ts';
import { keysRoute } from './stages/keys-route.ts';
import { proxy } from './stages/proxy.ts';
import { proxyUpgrade, type UpgradeRegistry } from './stages/proxy-upgrade.ts';
import { readinessRoute } from './stages/readiness-route.ts';
import { resolveClient } from './stages/resolve-client.ts';
import { stampIdentity } from './stages/stamp-identity.ts';

/** What stops a request before the upstream: a typed error, or a response of the gateway itself. */
export type Stop = HttpError | LocalResponse;

/** A pipeline stage: hands on (undefined) or stops the request. */
export type Stage = (scope: RequestScope) => Stop | undefined | Promise<Stop | undefined>;

/**
 * The request path, read top to bottom. Plain requests and WebSocket upgrades run the same
 * stages; only the final forwarding step differs. logRequest runs after every outcome.
 */
export const STAGES: readonly Stage[] = [
  resolveClient, //     peer trust and the real client IP
  assignRequestId, //   trusted inbound id or a fresh one
  assignTraceContext, // trusted inbound traceparent or a new trace
  readinessRoute, //    /.gatehouse/ready for load balancers, whatever the Host
  keysRoute, //         /.gatehouse/jwks.json for the application in the pod, whatever the Host
  checkRequest, //      one valid Host of this app, canonical origin-form path
  authenticate, //      service token | ServiceAccount token | session cookie | anonymous
  gatewayRoutes, //     /.gatehouse/: sign-in, callback, logout, JWKS
  authorize, //         the application's policies decide, deny by default
  forwardingHeaders, // hop-by-hop, identity headers and consumed credentials out; X-Forwarded-* in
  stampIdentity, //     identity headers and the signed identity JWT
];

/** What the pipeline needs from the process around it. */
export interface PipelineContext {
  readonly sink: LogSink;
  readonly metrics: SidecarMetrics;
  readonly upgrades: UpgradeRegistry;
  readonly responses: OpenResponses;
  readonly connections: ClientConnections;
  draining(): boolean;
  /** Whether the sidecar is ready (its admin port's /readyz). */
  ready(): boolean;
}

async function continueStages(pending: Promise<Stop | undefined>, from: number, scope: RequestScope) {
  const first = await pending;
  if (first) return first;
  for (let i = from + 1; i < STAGES.length; i++) {
    const result = await (STAGES[i] as Stage)(scope);
    if (result) return result;
  }
  return undefined;
}

/** Runs the stages synchronously until one returns a promise; most requests never await. */
function runStages(scope: RequestScope): Stop | undefined | Promise<Stop | undefined> {
  for (let i = 0; i < STAGES.length; i++) {
    const result = (STAGES[i] as Stage)(scope);
    if (result instanceof Promise) return continueStages(result, i, scope);
    if (result) return result;
  }
  return undefined;
}

/**
 * Handles one plain HTTP request end to end. Resolves after its log line is written.
 * `expectation` is what its Expect header asked, as Node's server read it.
 */
export async function handleRequest(
  ctx: PipelineContext,
  state: RuntimeState,
  req: IncomingMessage,
  res: ServerResponse,
  connection: ClientConnection | null = ctx.connections.of(req.socket) ?? null,
  expectation: Expectation = 'none',
) {
  const scope = new RequestScope('http', state, req, ctx.sink, connection, ctx.metrics, ctx.ready);
  if (expectation === 'continue') scope.owesContinue(() => sendContinue(res));
  else scope.expectation = expectation;
  ctx.metrics.requestStarted(state.appLabel);
  const finished = registerWithConnection(scope, res);
  try {
    let stop = runStages(scope);
    if (stop instanceof Promise) stop = await stop;
    if (scope.interrupted) {
      await responseGone(res, scope.socket);
    } else if (res.destroyed || scope.socket.destroyed) {
      // The client left before an answer started (a stage, or the requests ahead, kept it
      // waiting): nothing is sent, nothing goes upstream; `error` keeps what a stop would have said.
      if (stop) recordStop(scope, stop);
      scope.status = 499;
      scope.outcome = 'client_abort';
    } else if (stop) {
      stopRequest(scope, stop, res, ctx);
      await responseGone(res, scope.socket);
    } else {
      await proxy(scope, res, ctx.draining, ctx.responses);
    }
  } catch (error) {
    if (!res.headersSent && !res.destroyed) stopRequest(scope, gatewayFault(stackOf(error)), res, ctx);
    else res.destroy();
    await responseGone(res, scope.socket);
  } finally {
    logRequest(scope, ctx.sink, ctx.metrics);
    finished();
  }
}

/** The interim 100 (Continue), unless the answer has begun or the client is gone. */
function sendContinue(res: ServerResponse): void {
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}

/** What the log keeps of an error the gateway threw. */
function stackOf(error: unknown): string {
  return String((error as Error)?.stack ?? error);
}

/** A request's scope, tied to its connection's record and the process's log and metrics. */
function scopeOf(
  kind: 'http' | 'upgrade',
  ctx: PipelineContext,
  state: RuntimeState,
  req: IncomingMessage,
  socket: Socket,
): RequestScope {
  return new RequestScope(
    kind,
    state,
    req,
    ctx.sink,
    ctx.connections.of(socket) ?? null,
    ctx.metrics,
    ctx.ready,
  );
}

/** Records on the scope that a stage stopped the request. */
function recordStop(scope: RequestScope, stop: Stop): void {
  scope.status = stop.status;
  if (stop instanceof LocalResponse) {
    scope.errorCode = stop.code;
    scope.outcome = stop.outcome;
  } else {
    scope.errorCode = stop.code;
    scope.outcome = stop.status === 401 || stop.status === 403 ? 'denied' : 'rejected';
  }
  if (!scope.requestId) scope.requestId = newRequestId();
}

function stopRequest(scope: RequestScope, stop: Stop, res: ServerResponse, ctx: PipelineContext): void {
  recordStop(scope, stop);
  // Requests refused for their shape close the connection: the parser state is not to be trusted.
  const close = stop.status === 400 || ctx.draining();
  const idHeader = scope.state.config.requestId.header;
  const cookies = scope.setCookies ?? [];
  if (stop instanceof LocalResponse) sendLocal(res, stop, scope.requestId, idHeader, close, cookies);
  else sendError(res, stop, scope.requestId, idHeader, scope.req.headers.accept, close, cookies);
}

/** Handles one WebSocket upgrade through the same stages; resolves when the tunnel has closed. */
export async function handleUpgrade(
  ctx: PipelineContext,
  state: RuntimeState,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) {
  const scope = scopeOf('upgrade', ctx, state, req, req.socket);
  ctx.metrics.requestStarted(state.appLabel);
  try {
    let stop = runStages(scope);
    if (stop instanceof Promise) stop = await stop;
    if (stop) {
      // The stages answer a handshake with errors; a page is no answer to one.
      const sent = stop instanceof LocalResponse ? GATEWAY_ROUTE_NOT_UPGRADABLE : stop;
      recordStop(scope, sent);
      sendRawError(
        socket as Socket,
        sent,
        scope.requestId,
        state.config.requestId.header,
        req.headers.accept,
      );
    } else {
      await proxyUpgrade(scope, socket, head, ctx.upgrades);
    }
  } catch (error) {
    socket.destroy();
    scope.status = 500;
    scope.outcome = 'upstream_error';
    scope.errorCode = gatewayFault(stackOf(error)).code;
  } finally {
    logRequest(scope, ctx.sink, ctx.metrics);
  }
}

/**
 * Logs a request refused before it became a request the pipeline runs (oversized headers, syntax
 * errors, header timeout, CONNECT), so that it too gets its one line. `parsed` is the request
 * when the parser got that far.
 */
export function handleProtocolError(
  ctx: PipelineContext,
  state: RuntimeState,
  socket: Socket,
  error: HttpError,
  rawPacket?: Buffer,
  parsed?: IncomingMessage,
  /** What the parser refused, for a malformed request. */
  cause: RequestFault | null = null,
) {
  const req = parsed ?? requestFromPacket(socket, rawPacket);
  const scope = scopeOf('http', ctx, state, req, socket);
  ctx.metrics.requestStarted(state.appLabel);
  scope.requestId = newRequestId();
  scope.status = error.status;
  scope.errorCode = error.code;
  scope.errorCause = cause;
  scope.outcome = error.code === 'client_timeout' ? 'client_timeout' : 'rejected';
  scope.clientIp = normaliseIp(scope.peerIp);
  const idHeader = state.config.requestId.header;
  const ended = error.code === 'headers_too_large' ? signInsEndedByOverflow(state.auth, req.url ?? '') : null;
  // A browser on the sign-in routes: its page, and every login cookie ended by name.
  if (ended)
    sendRawPage(socket, error.status, ended.page(scope.requestId), scope.requestId, idHeader, ended.cookies);
  else sendRawError(socket, error, scope.requestId, idHeader);
  if (socket.destroyed) logRequest(scope, ctx.sink, ctx.metrics);
  else socket.once('close', () => logRequest(scope, ctx.sink, ctx.metrics));
}

/** A stand-in request for the log, from the first line of what the parser refused. */
function requestFromPacket(socket: Socket, rawPacket: Buffer | undefined): IncomingMessage {
  const req = new IncomingMessage(socket);
  const firstLine = rawPacket ? (rawPacket.subarray(0, 2048).toString('latin1').split('\r\n')[0] ?? '') : '';
  const [method = '', target = '', version = ''] = firstLine.split(' ');
  req.method = method.slice(0, 32);
  req.url = target;
  req.httpVersion = /^HTTP\/1\.[01]$/.test(version) ? version.slice(5) : '1.1';
  return req;
}
