import type { LogSink } from '../../../lib/log/log-sink.ts';
import { toJsonLine } from '../../../lib/log/sanitize.ts';
import { writeNativeLine } from '../log/native-line-json.ts';
import { cloudflareRequestRecord, nativeRequestRecord } from '../log/request-log.ts';
import type { SidecarMetrics } from '../metrics/metrics.ts';
import type { RequestScope } from '../request-scope.ts';

/** Bytes this request moved on its connection since the previous request on it (headers included). */
function countBytes(scope: RequestScope): void {
  const socket = scope.socket;
  const connection = scope.connection;
  const read = socket.bytesRead;
  const written = socket.bytesWritten;
  scope.bytesIn = read - (connection?.bytesReadMark ?? 0);
  scope.bytesOut = written - (connection?.bytesWrittenMark ?? 0);
  if (connection) {
    connection.bytesReadMark = read;
    connection.bytesWrittenMark = written;
  }
}

/** The last stage, run for every request whatever happened: exactly one line, and the metrics. */
export function logRequest(scope: RequestScope, sink: LogSink, metrics: SidecarMetrics): void {
  if (scope.logged) return;
  scope.logged = true;
  countBytes(scope);
  const endedAt = Date.now();
  const durationMs = performance.now() - scope.startMono;
  const times = { endedAt, durationMs };
  try {
    if (scope.state.config.logging.profile === 'cloudflare') {
      const line = toJsonLine(cloudflareRequestRecord(scope, times));
      sink.write(line);
    } else {
      const record = nativeRequestRecord(scope, times);
      sink.writeLine((w) => writeNativeLine(w, record));
    }
  } catch (error) {
    // Never lose the line: fall back to the fields that cannot fail (the sink kept nothing of
    // a line whose writing failed).
    sink.write(
      toJsonLine({
        type: 'request',
        time: new Date(endedAt).toISOString(),
        requestId: scope.requestId,
        status: scope.status,
        outcome: scope.outcome,
        error: scope.errorCode,
        logError: String((error as Error)?.message ?? error).slice(0, 200),
      }),
    );
  }
  if (scope.errorCause !== null) metrics.errorCaused(scope.state.appLabel, scope.errorCause);
  metrics.requestFinished(
    scope.state.appLabel,
    scope.decision?.action ?? 'none',
    scope.status,
    durationMs / 1000,
    scope.upstreamMs === null ? null : scope.upstreamMs / 1000,
  );
}
