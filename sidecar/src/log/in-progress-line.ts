import { logEvent } from '../../../contract/event-writer.ts';
import { isoTime } from '../../../lib/iso-time.ts';
import { capField } from '../../../lib/log/sanitize.ts';
import type { RequestScope } from '../request-scope.ts';
import { loggedIdentity, loggedTraceId, loggedUri } from './request-log.ts';

/**
 * Writes a `request_in_progress` line for a request still going on at `nowMono`
 * (performance.now()): its request line so far. The byte counts are those since the previous
 * request on its connection, as its request line will count them; nothing of the request changes.
 */
export function logInProgress(scope: RequestScope, nowMono: number): void {
  const socket = scope.socket;
  const connection = scope.connection;
  logEvent(scope.sink, 'request_in_progress', {
    app: scope.state.appLabel,
    requestId: scope.requestId,
    traceId: loggedTraceId(scope),
    seq: scope.seq,
    host: capField(scope.host, 256),
    method: capField(scope.req.method ?? '', 32),
    uri: loggedUri(scope),
    status: scope.status,
    start: isoTime(scope.startedAt),
    elapsedMs: Math.max(0, Math.round(nowMono - scope.startMono)),
    bytesIn: Math.max(0, socket.bytesRead - (connection?.bytesReadMark ?? 0)),
    bytesOut: Math.max(0, socket.bytesWritten - (connection?.bytesWrittenMark ?? 0)),
    clientIp: scope.clientIp,
    privateEndpoint: scope.privateEndpoint ?? undefined,
    identity: loggedIdentity(scope),
    sessionId: scope.sessionId,
    authMethod: scope.authMethod,
    upgrade: scope.kind === 'upgrade',
  });
}

/** In-progress lines written in one turn of the event loop at most: the rest wait for the next turn. */
export const IN_PROGRESS_LINES_PER_TURN = 256;

/**
 * Writes the in-progress line of every request the registries hold that has gone on for
 * `intervalMs` or more: those due are picked at once, their lines written
 * IN_PROGRESS_LINES_PER_TURN a turn, so thousands of open tunnels do not hold the event loop
 * (and every other request) for the time of all their lines. One that ended meanwhile is skipped.
 * Nothing is written while the log is congested (its reader stalled), and a sweep stops where it
 * becomes so: the log never drops a line, so each sweep's lines would wait in memory, thousands
 * of open tunnels' a sweep for as long as the reader stalls. A request skipped gets its line at
 * the first sweep after the log drains, with its figures then, and its request line at its end.
 */
export function logRequestsInProgress(
  registries: readonly { forEachOpen(visit: (scope: RequestScope) => void): void }[],
  intervalMs: number,
  log: { readonly congested: boolean },
): void {
  if (log.congested) return;
  const now = performance.now();
  const due: RequestScope[] = [];
  for (const registry of registries)
    registry.forEachOpen((scope) => {
      if (now - scope.startMono >= intervalMs) due.push(scope);
    });
  const writeFrom = (from: number): void => {
    const to = Math.min(due.length, from + IN_PROGRESS_LINES_PER_TURN);
    const at = performance.now();
    for (let i = from; i < to; i++) {
      if (log.congested) return;
      const scope = due[i] as RequestScope;
      if (!scope.logged) logInProgress(scope, at);
    }
    if (to < due.length) setImmediate(writeFrom, to);
  };
  if (due.length > 0) writeFrom(0);
}
