import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ErrorCause } from '../../../../contract/error-causes.ts';
import { HttpError } from '../../../../contract/errors.ts';
import type { AdmissionTicket, Refusal } from '../../../../lib/admission.ts';
import { resetConnection } from '../../../../lib/net/connection-reset.ts';
import { withoutGatehouseSetCookies } from '../../auth/cookies.ts';
import {
  COALESCE_BELOW_BYTES,
  CoalescedBody,
  CoalescedWrites,
  declaredLength,
} from '../../http/coalesced-body.ts';
import { relayEarlyHints } from '../../http/early-hints.ts';
import { sendError, sendLocal } from '../../http/error-response.ts';
import { connectionTokens, HOP_BY_HOP } from '../../http/hop-by-hop.ts';
import { LocalResponse } from '../../http/local-response.ts';
import { onResponseGone, responseGone } from '../../http/response-gone.ts';
import { claimantOf, type RequestScope } from '../../request-scope.ts';
import {
  informationalTimeout,
  unsupportedTransferCoding,
  upstreamFault,
} from '../../upstream/upstream-errors.ts';
import type { LiveEnd } from '../live-deadline.ts';
import type { OpenResponses } from '../open-responses.ts';
import { CHALLENGE, refusalOf, signInOrChallenge } from './authorize.ts';

/**
 * Response headers for the client: upstream's, minus hop-by-hop and Connection-named ones, and
 * minus any Set-Cookie naming one of Gatehouse's cookies when the application signs users in
 * (counted for `scope`'s application), plus the request id. Values are the upstream's bytes, one
 * character per byte (as undici reads them, and as Node.js writes them back).
 *
 * Content-Length goes last: once Node.js has seen it among the headers of a response, it re-reads
 * a Content-Disposition after it as a Buffer and refuses one with any byte above 0x7F (a file
 * name in UTF-8, as many applications send it), so the answer was a 502
 * (https://github.com/nodejs/node/issues/58240).
 */
export function responseHeaders(
  headers: IncomingHttpHeaders,
  requestIdHeader: string,
  requestId: string,
  status: number,
  scope: RequestScope,
): string[] {
  const connection = headers.connection;
  const named = connection
    ? connectionTokens(Array.isArray(connection) ? connection : [connection])
    : undefined;
  const out: string[] = [];
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name) || name === requestIdHeader) continue;
    if (name === 'content-length') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'set-cookie') pushSetCookies(out, value as string[], scope);
    else if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  // A 204 has no body, and no Content-Length either (RFC 9110 §8.6): a client that believed one
  // would wait for bytes that never come, or read the next response as this one's body.
  const length = status === 204 ? undefined : headers['content-length'];
  if (length !== undefined && !named?.has('content-length')) out.push('content-length', length);
  out.push(requestIdHeader, requestId);
  return out;
}

/**
 * The application's Set-Cookie lines, without those that would set one of Gatehouse's cookies
 * (see withoutGatehouseSetCookies); only an application with sign-in has any.
 */
function pushSetCookies(out: string[], values: readonly string[], scope: RequestScope): void {
  const base = scope.state.auth?.settings.session.cookieName;
  if (base === undefined || base === '') {
    for (const v of values) out.push('set-cookie', v);
    return;
  }
  const { kept, dropped } = withoutGatehouseSetCookies(values, base);
  for (const v of kept) out.push('set-cookie', v);
  if (dropped > 0) scope.metrics?.upstreamCookiesDropped(scope.state.appLabel, dropped);
}

function isStreaming(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return (
    headers['content-length'] === undefined ||
    (typeof type === 'string' && type.startsWith('text/event-stream'))
  );
}

/**
 * The request body as undici gets it: a stream of its own, since undici destroys the stream it
 * sent once the exchange ends, and a request destroyed before its body was all in stopped its
 * connection's parser (the client stalled mid-upload until the keep-alive timeout). When undici is
 * done with it early (the application answered before reading it all, or failed), the rest is read
 * and dropped, held to the body's rate by the connection's clock, and the connection serves the
 * next request. A client that leaves mid-body ends it, and with it the upstream request. Small
 * chunks go on joined (coalesced-body.ts).
 */
function upstreamBody(req: IncomingMessage): CoalescedBody {
  const body = new CoalescedBody(declaredLength(req.headers));
  req.pipe(body);
  req.once('close', () => {
    if (!req.complete) body.destroy(new Error('client closed the connection'));
  });
  body.once('close', () => {
    if (req.complete || req.destroyed) return;
    req.unpipe(body);
    req.resume();
  });
  return body;
}

/**
 * Ends a proxied request in progress (see OpenResponses): answered as it would be now when
 * nothing was sent yet, else its connection reset. False when it was over already.
 */
export function endForwarded(scope: RequestScope, why: LiveEnd, closing: boolean): boolean {
  const res = scope.response;
  if (res === null || scope.interrupted || res.writableFinished || res.destroyed || scope.socket.destroyed)
    return false;
  scope.errorCode = why.reason;
  scope.errorCause = null;
  if (res.headersSent) {
    scope.outcome = 'denied';
    // Reset, not closed: what the kernel still holds for the client is dropped with it.
    resetConnection(scope.socket);
    return true;
  }
  // Answered as the request would be now: a navigation goes to sign in, an API call gets 401,
  // a caller the policies deny 403.
  const answer =
    why.reason === 'policy_changed' || why.reason === 'fresh_sign_in_required'
      ? refusalOf(scope, why.decision)
      : signInOrChallenge(scope, SESSION_ENDED[why.reason]);
  const idHeader = scope.state.config.requestId.header;
  scope.status = answer.status;
  if (answer instanceof LocalResponse) {
    scope.outcome = answer.outcome;
    sendLocal(res, answer, scope.requestId, idHeader, closing);
  } else {
    scope.outcome = 'denied';
    sendError(res, answer, scope.requestId, idHeader, scope.req.headers.accept, closing);
  }
  return true;
}

/**
 * The answer to a request whose session ended before the application answered it (a long poll,
 * a WebSocket handshake).
 */
export const SESSION_ENDED: Record<
  'session_revoked' | 'credential_expired' | 'credential_revoked',
  HttpError
> = {
  session_revoked: new HttpError(
    'session_revoked',
    401,
    'Your session has ended. Sign in again.',
    undefined,
    CHALLENGE,
  ),
  credential_expired: new HttpError(
    'credential_expired',
    401,
    'Your session or token has expired. Sign in again.',
    undefined,
    CHALLENGE,
  ),
  credential_revoked: new HttpError(
    'credential_revoked',
    401,
    'Your session or token is no longer accepted. Sign in again.',
    undefined,
    CHALLENGE,
  ),
};

/** Seconds a client is told to wait after a 503 for a busy upstream. */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/** The answer when no upstream connection could be had in time (or the queue is full). */
export function upstreamBusy(why: Refusal): HttpError {
  return new HttpError('upstream_busy', 503, 'The application is busy. Try again shortly.', why, {
    'retry-after': String(BUSY_RETRY_AFTER_SECONDS),
  });
}

/**
 * Forwards the request to the upstream over the keep-alive pool and streams the response back
 * with back-pressure both ways. The request first waits for an admission slot (bounded); a
 * client that leaves before dispatch is never dispatched, and a response that can no longer be
 * written aborts its upstream request instead of pausing it. Resolves when the client response
 * is finished or closed.
 */
export function proxy(
  scope: RequestScope,
  res: ServerResponse,
  draining: () => boolean,
  responses: OpenResponses,
): Promise<void> {
  const { req, state } = scope;
  const idHeader = state.config.requestId.header;
  // What ends it in progress (endForwarded) finds the response here. A closure per request kept
  // on the scope instead, even one holding only a number, made V8 keep 15 times as much of each
  // request past two young collections: a full collection every 1,300 requests, 20% more CPU.
  scope.response = res;
  const ended = responses.endedBeforeSent(scope);
  if (ended !== null) {
    // Answered as it would be now, never sent on; nothing of it was registered.
    endForwarded(scope, ended, draining());
    scope.response = null;
    return responseGone(res, scope.socket);
  }
  return new Promise((done) => {
    const resolve = (): void => {
      responses.delete(scope);
      scope.response = null;
      done();
    };
    let controller: Dispatcher.DispatchController | undefined;
    let upstreamDone = false;
    let clientGone = false;
    let ticket: AdmissionTicket | undefined;
    let earlyHints = 0;
    /**
     * The deadline of the final response head once an informational one (1xx) came: undici waits
     * for a head afresh after each, so an application sending a 103 every second held the request
     * and its pool slot for ever. Armed only then, so a plain request pays for no timer.
     */
    let headDeadline: NodeJS.Timeout | undefined;
    /**
     * The response body to the client, its small chunks joined: made at the first small chunk
     * that does not end the body (a small answer in one chunk goes out as it came, for nothing).
     */
    let bodyOut: CoalescedWrites | undefined;
    /** Body bytes the application declared (-1: not said), and those it sent so far. */
    let declared = -1;
    let relayed = 0;
    const connection = scope.connection;
    /** The application's part is over: its slot goes back, and silence is the client's again. */
    const release = (): void => {
      if (connection) connection.upstreamAnswering = false;
      ticket?.release();
    };

    /** Ends the request with an error: the gateway's own (with its cause), or undici's, classified. */
    const fail = (error: unknown, cause: ErrorCause | null = null): void => {
      if (clientGone || scope.interrupted) return; // the close handler or the interruption recorded it
      let httpError: HttpError;
      if (error instanceof HttpError) {
        httpError = error;
        scope.errorCause = cause;
      } else {
        const fault = upstreamFault(error, scope.upstreamMs !== null);
        httpError = fault.answer;
        scope.errorCause = fault.failure;
      }
      scope.errorCode = httpError.code;
      scope.outcome = outcomeOf(httpError);
      if (!res.headersSent && !res.destroyed) {
        scope.status = httpError.status;
        sendError(res, httpError, scope.requestId, idHeader, req.headers.accept, draining());
      } else {
        res.destroy();
      }
    };

    responses.add(scope);

    onResponseGone(res, scope.socket, () => {
      clientGone = true;
      scope.waitingForUpstream = false;
      if (!res.writableFinished && scope.outcome === 'served') {
        scope.outcome = scope.connection?.timedOut ? 'client_timeout' : 'client_abort';
        if (scope.status === 0) scope.status = 499;
      }
      if (headDeadline !== undefined) clearTimeout(headDeadline);
      if (!upstreamDone && controller && !controller.aborted)
        controller.abort(new Error('client closed the connection'));
      release();
      resolve();
    });
    res.on('drain', () => controller?.resume());

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (clientGone) c.abort(new Error('client closed the connection'));
      },
      onResponseStart(c, statusCode, headers) {
        if (statusCode < 200) {
          const timeoutMs = state.upstream.settings.responseHeadersTimeoutMs;
          if (headDeadline === undefined && timeoutMs > 0) {
            const leftMs = scope.upstreamStartMono + timeoutMs - performance.now();
            headDeadline = setTimeout(() => c.abort(informationalTimeout()), Math.max(0, leftMs));
          }
          if (statusCode === 103 && relayEarlyHints(res, headers as IncomingHttpHeaders, earlyHints))
            earlyHints++;
          return;
        }
        if (headDeadline !== undefined) clearTimeout(headDeadline);
        if (res.destroyed || res.headersSent) {
          c.abort(new Error('client response already ended'));
          return;
        }
        const coding = headers['transfer-encoding'] as string | string[] | undefined;
        if (coding !== undefined && String(coding).trim().toLowerCase() !== 'chunked') {
          c.abort(unsupportedTransferCoding(String(coding)));
          return;
        }
        scope.upstreamMs = performance.now() - scope.upstreamStartMono;
        scope.status = statusCode;
        const out = responseHeaders(
          headers as IncomingHttpHeaders,
          idHeader,
          scope.requestId,
          statusCode,
          scope,
        );
        if (scope.setCookies) for (const cookie of scope.setCookies) out.push('set-cookie', cookie);
        if (draining()) out.push('connection', 'close');
        try {
          res.writeHead(statusCode, out);
        } catch (error) {
          c.abort(error as Error);
          return;
        }
        if (isStreaming(headers as IncomingHttpHeaders)) res.flushHeaders();
        declared = declaredLength(headers as IncomingHttpHeaders);
      },
      onResponseData(c, chunk) {
        if (res.destroyed || res.writableEnded) {
          c.abort(new Error('client response already ended'));
          return;
        }
        relayed += chunk.length;
        // The client takes no more for now: the application waits, and the client is held to the
        // minimum response rate.
        if (bodyOut === undefined && (chunk.length >= COALESCE_BELOW_BYTES || relayed === declared)) {
          if (!res.write(chunk)) {
            c.pause();
            connection?.heldUpByClient();
          }
          return;
        }
        bodyOut ??= new CoalescedWrites(res, () => {
          c.pause();
          connection?.heldUpByClient();
        });
        bodyOut.write(chunk);
      },
      onResponseEnd() {
        upstreamDone = true;
        release();
        bodyOut?.flush();
        if (!res.destroyed && !res.writableEnded) res.end();
      },
      onResponseError(_c, error) {
        if (headDeadline !== undefined) clearTimeout(headDeadline);
        upstreamDone = true;
        release();
        fail(error);
      },
    };

    const dispatch = (): void => {
      scope.waitingForUpstream = false;
      // Answered already while it waited (its session ended: endForwarded): never sent on.
      if (clientGone || scope.interrupted || res.writableEnded) {
        release();
        return;
      }
      scope.upstreamStartMono = performance.now();
      if (connection) connection.upstreamAnswering = true;
      if (scope.hasBody) scope.inviteBody(); // the client asked to be told before sending it
      try {
        state.upstream.pool.dispatch(
          {
            path: scope.query ? `${scope.path}?${scope.query}` : scope.path,
            method: req.method ?? 'GET',
            headers: scope.upstreamHeaders,
            body: scope.hasBody ? upstreamBody(req) : null,
          },
          handler,
        );
      } catch (error) {
        upstreamDone = true;
        release();
        fail(error);
      }
    };

    scope.waitingForUpstream = true;
    ticket = state.upstream.admission.request(claimantOf(scope), dispatch, (why) => {
      scope.waitingForUpstream = false;
      upstreamDone = true;
      fail(upstreamBusy(why), why);
    });
  });
}

/** How a request that could not be forwarded ended, for its log line (plain requests and upgrades). */
export function outcomeOf(error: HttpError): RequestScope['outcome'] {
  if (error.code === 'upstream_timeout') return 'upstream_timeout';
  if (error.code === 'upstream_busy' || error.code === 'tunnel_limit') return 'overloaded';
  return 'upstream_error';
}
