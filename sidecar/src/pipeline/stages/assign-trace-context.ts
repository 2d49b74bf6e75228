import { newTraceparent, traceIdOf } from '../../http/trace-context.ts';
import type { RequestScope } from '../../request-scope.ts';

/**
 * Takes the W3C trace context (`traceparent`, with its `tracestate`) from a trusted proxy when
 * well-formed; otherwise starts a new trace, so a client cannot pick the trace its requests are
 * logged under. The application receives the one chosen here; the log line carries its trace id.
 */
export function assignTraceContext(scope: RequestScope): undefined {
  if (scope.peerTrusted) {
    const { traceparent, tracestate } = scope.req.headers;
    const traceId = typeof traceparent === 'string' ? traceIdOf(traceparent) : undefined;
    if (traceId !== undefined) {
      scope.traceparent = traceparent as string;
      scope.traceId = traceId;
      scope.tracestate = typeof tracestate === 'string' && tracestate.length <= 512 ? tracestate : null;
      return undefined;
    }
  }
  const started = newTraceparent();
  scope.traceparent = started.traceparent;
  scope.traceId = started.traceId;
  scope.tracestate = null;
  return undefined;
}
