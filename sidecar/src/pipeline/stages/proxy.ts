import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { HttpError } from '../../errors.ts';
import { sendError } from '../../http/error-response.ts';
import { connectionTokens, HOP_BY_HOP } from '../../http/hop-by-hop.ts';
import { upstreamHttpError } from '../../upstream/upstream-errors.ts';
import type { RequestScope } from '../scope.ts';

/** Response headers for the client: upstream's, minus hop-by-hop and Connection-named ones, plus the request id. */
export function responseHeaders(
  headers: IncomingHttpHeaders,
  requestIdHeader: string,
  requestId: string,
): string[] {
  const connection = headers.connection;
  const named = connection
    ? connectionTokens(Array.isArray(connection) ? connection : [connection])
    : undefined;
  const out: string[] = [];
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name) || name === requestIdHeader) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  out.push(requestIdHeader, requestId);
  return out;
}

function isStreaming(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return (
    headers['content-length'] === undefined ||
    (typeof type === 'string' && type.startsWith('text/event-stream'))
  );
}

/** Sockets whose idle timer fired; their requests end as client_timeout rather than client_abort. */
export const timedOutSockets = new WeakSet<object>();

/**
 * Forwards the request to the upstream over the keep-alive pool and streams the response back
 * with back-pressure both ways. Resolves when the client response is finished or closed.
 */
export function proxy(scope: RequestScope, res: ServerResponse, draining: () => boolean): Promise<void> {
  const { req, state } = scope;
  const idHeader = state.config.requestId.header;
  if (res.destroyed) {
    scope.outcome = 'client_abort';
    scope.status = 499;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let controller: Dispatcher.DispatchController | undefined;
    let upstreamDone = false;

    const fail = (error: unknown): void => {
      if (controller?.aborted && res.destroyed) return; // the client left first; close handler records it
      const httpError = error instanceof HttpError ? error : upstreamHttpError(error);
      scope.errorCode = httpError.code;
      scope.outcome = httpError.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_error';
      if (!res.headersSent && !res.destroyed) {
        scope.status = httpError.status;
        sendError(res, httpError, scope.requestId, idHeader, req.headers.accept, draining());
      } else {
        res.destroy();
      }
    };

    res.once('close', () => {
      if (!res.writableFinished && scope.outcome === 'served') {
        scope.outcome = timedOutSockets.has(req.socket) ? 'client_timeout' : 'client_abort';
        if (scope.status === 0) scope.status = 499;
      }
      if (!upstreamDone) controller?.abort(new Error('client closed the connection'));
      resolve();
    });
    res.on('drain', () => controller?.resume());

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
      },
      onResponseStart(c, statusCode, headers) {
        if (statusCode < 200) return;
        scope.upstreamMs = Number(process.hrtime.bigint() - scope.upstreamStartNs) / 1e6;
        scope.status = statusCode;
        const out = responseHeaders(headers as IncomingHttpHeaders, idHeader, scope.requestId);
        if (scope.setCookies) for (const cookie of scope.setCookies) out.push('set-cookie', cookie);
        if (draining()) out.push('connection', 'close');
        try {
          res.writeHead(statusCode, out);
        } catch (error) {
          c.abort(error as Error);
          return;
        }
        if (isStreaming(headers as IncomingHttpHeaders)) res.flushHeaders();
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) c.pause();
      },
      onResponseEnd() {
        upstreamDone = true;
        res.end();
      },
      onResponseError(_c, error) {
        upstreamDone = true;
        fail(error);
      },
    };

    scope.upstreamStartNs = process.hrtime.bigint();
    try {
      state.upstream.pool.dispatch(
        {
          path: scope.query ? `${scope.path}?${scope.query}` : scope.path,
          method: req.method ?? 'GET',
          headers: scope.upstreamHeaders,
          body: scope.hasBody ? req : null,
        },
        handler,
      );
    } catch (error) {
      upstreamDone = true;
      fail(error);
    }
  });
}
