import type { ServerResponse } from 'node:http';
import type { RequestFault, SlowClient } from '../../../contract/error-causes.ts';
import { HttpError } from '../../../contract/errors.ts';
import { resetConnection } from '../../../lib/net/connection-reset.ts';
import { sendError } from '../http/error-response.ts';
import { newRequestId } from '../http/random-ids.ts';
import type { RequestTimeout } from '../net/client-connection.ts';
import { claimantOf, type RequestScope } from '../request-scope.ts';

const TIMEOUTS: Record<RequestTimeout, HttpError> = {
  body_too_slow: new HttpError('body_too_slow', 408, 'The request body arrived too slowly.'),
  request_deadline: new HttpError('request_deadline', 408, 'The request was not received in time.'),
  // The response has started: the status sent stays, the connection is reset.
  response_read_too_slow: new HttpError('response_read_too_slow', 408, 'The response was taken too slowly.'),
};

/**
 * Ends a request early on behalf of its connection's owner: records why, answers it if nothing
 * was sent yet (with Connection: close), and makes sure the socket goes away (`reset`: with a
 * reset, so the kernel drops what it still holds for a client that does not read it). Whatever
 * stage is running sees the closed response and stops (the proxy aborts its upstream request).
 */
function interrupt(
  scope: RequestScope,
  res: ServerResponse,
  error: HttpError | null,
  outcome: RequestScope['outcome'],
  cause: RequestFault | SlowClient | null = null,
  reset = false,
): void {
  const socket = scope.socket;
  if (scope.logged) {
    socket.destroy(); // the answer is out; only the rest of the body was still arriving
    return;
  }
  if (scope.interrupted) return;
  scope.interrupted = true;
  // A status already sent stays what the log says; the outcome tells how the request ended.
  if (!res.headersSent || scope.status === 0) scope.status = error?.status ?? 499;
  if (error) {
    scope.errorCode = error.code;
    scope.errorCause = cause;
  }
  scope.outcome = outcome;
  if (!scope.requestId) scope.requestId = newRequestId();
  if (error && !res.headersSent && !res.destroyed && socket.writable) {
    const idHeader = scope.state.config.requestId.header;
    sendError(res, error, scope.requestId, idHeader, scope.req.headers.accept, true);
    res.once('finish', () => socket.end()); // closed a moment later whatever the client does
  } else {
    // Reset first: the response's destroy closes the socket.
    if (reset) resetConnection(socket);
    res.destroy();
    socket.destroy();
  }
}

/** Registers the request with its connection's owner, which may time it out or report its body broken. */
export function registerWithConnection(scope: RequestScope, res: ServerResponse): () => void {
  const connection = scope.connection;
  if (connection === null) return () => undefined;
  const req = scope.req;
  const finish = connection.begin({
    startedAtMs: performance.now(),
    reading() {
      if (req.complete || req.destroyed) return 'done';
      if (scope.waitingForUpstream) return 'held';
      return req.readableLength >= req.readableHighWaterMark ? 'held' : 'reading';
    },
    waitsOnClient: () => res.headersSent && !res.writableFinished && scope.socket.writableLength > 0,
    upstreamWanted: (freeing) =>
      connection.upstreamAnswering && scope.state.upstream.admission.wanted(claimantOf(scope), freeing),
    timeout: (reason, why) =>
      interrupt(
        scope,
        res,
        TIMEOUTS[reason],
        'client_timeout',
        why ?? null,
        reason === 'response_read_too_slow',
      ),
    peerEnded() {
      if (res.headersSent && !res.writableFinished) interrupt(scope, res, null, 'client_abort');
    },
    broken(code, cause) {
      if (CLIENT_CLOSED_CODES.has(code)) interrupt(scope, res, null, 'client_abort');
      else
        interrupt(
          scope,
          res,
          new HttpError('bad_request', 400, 'Malformed request body.', code),
          'rejected',
          cause,
        );
    },
  });
  // The connection's record of this request lasts until its body is fully in (or the socket
  // closes), so a body still trickling in after the answer is still held to the rate limits;
  // meanwhile the connection counts as idle for the connection cap.
  return () => {
    if (req.complete || req.destroyed) finish();
    else {
      req.once('end', finish);
      req.once('close', finish);
      connection.answered();
    }
  };
}

/** Parser errors that mean the client closed mid-request rather than sent something malformed. */
const CLIENT_CLOSED_CODES: ReadonlySet<string> = new Set(['HPE_INVALID_EOF_STATE', 'ECONNRESET', 'EPIPE']);
