import { isoTime } from '../../lib/iso-time.ts';
import type { RequestRecord } from './audit-record.ts';
import type { AuditAnswer } from './queries.ts';
import type { Session } from './sessions.ts';

const iso = isoTime;

/** One request as one flat JSON object: every field an analyst filters or sums on. */
export function requestLine(r: RequestRecord, session: Session | null, flags: readonly string[]): string {
  return `${JSON.stringify({
    time: iso(r.start),
    end: iso(r.end),
    app: r.app,
    session: session?.sessionId ?? r.sessionId ?? r.endedSession?.sessionId ?? null,
    user: session?.email ?? r.identity?.email ?? r.endedSession?.email ?? null,
    sub: session?.sub ?? r.identity?.sub ?? r.endedSession?.sub ?? null,
    provider: session?.provider ?? r.identity?.idp ?? null,
    host: r.host,
    method: r.method,
    uri: r.uri,
    status: r.status,
    outcome: r.outcome,
    error: r.error ?? null,
    errorCause: r.errorCause ?? null,
    bytesIn: r.bytesIn ?? null,
    bytesOut: r.bytesOut ?? null,
    durationMs: r.durationMs ?? null,
    clientIp: r.clientIp,
    privateEndpoint: r.privateEndpoint ?? null,
    userAgent: r.userAgent,
    authMethod: r.authMethod ?? null,
    decision: r.decision?.action ?? null,
    policy: r.decision?.policy ?? null,
    rule: r.decision?.rule ?? null,
    reason: r.decision?.reason ?? null,
    endedSession: r.endedSession?.reason ?? null,
    anomalies: flags,
    requestId: r.requestId,
    traceId: r.traceId ?? null,
    seq: r.seq ?? null,
  })}\n`;
}

/** The requests of one session as JSON lines, each with the anomalies flagged at it. */
export function sessionJsonLines(s: Session): string[] {
  const flags = new Map<string, string[]>();
  for (const a of s.anomalies) flags.set(a.requestId, [...(flags.get(a.requestId) ?? []), a.kind]);
  return s.requests.map((r) => requestLine(r, s, flags.get(r.requestId) ?? []));
}

/**
 * The answer as JSON lines, one request per line with every field (bytes, duration, auth method,
 * decision, error, session, anomaly flags), ready to load into a SIEM or a spreadsheet. For `ip`,
 * one user per line.
 */
export function renderJsonLines(answer: AuditAnswer): string[] {
  if (answer.kind === 'sessions') return answer.sessions.flatMap(sessionJsonLines);
  if (answer.kind === 'requests') return answer.requests.map((r) => requestLine(r, null, []));
  return answer.users.map((u) => `${JSON.stringify({ ...u, first: iso(u.first), last: iso(u.last) })}\n`);
}
