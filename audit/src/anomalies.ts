import type { RequestRecord } from './audit-record.ts';
import type { AnomalySettings, Session } from './sessions.ts';

/** Something in a session a person should look at. */
export interface Anomaly {
  readonly kind: 'ip_change' | 'user_agent_change' | 'denial_burst' | 'used_after_end';
  /** When it happened (epoch ms) and the request it happened at. */
  readonly time: number;
  readonly requestId: string;
  readonly detail: string;
}

const isDenied = (r: RequestRecord): boolean => r.decision?.action === 'deny' || r.outcome === 'denied';

/** Flags IP and user-agent changes between consecutive requests, and bursts of denials. */
export function findAnomalies(requests: readonly RequestRecord[], settings: AnomalySettings): Anomaly[] {
  const out: Anomaly[] = [];
  let previous: RequestRecord | undefined;
  const denials: RequestRecord[] = [];
  let burstUntil = -1;
  for (const r of requests) {
    if (previous) {
      if (r.clientIp !== previous.clientIp)
        out.push({
          kind: 'ip_change',
          time: r.start,
          requestId: r.requestId,
          detail: `${previous.clientIp ?? '?'} → ${r.clientIp ?? '?'}`,
        });
      if (r.userAgent !== previous.userAgent)
        out.push({
          kind: 'user_agent_change',
          time: r.start,
          requestId: r.requestId,
          detail: `${previous.userAgent ?? '(none)'} → ${r.userAgent ?? '(none)'}`,
        });
    }
    previous = r;
    if (!isDenied(r)) continue;
    denials.push(r);
    while (denials.length > 0 && r.start - (denials[0] as RequestRecord).start > settings.burstWindowMs)
      denials.shift();
    if (denials.length >= settings.burstCount && r.start > burstUntil) {
      const first = denials[0] as RequestRecord;
      out.push({
        kind: 'denial_burst',
        time: first.start,
        requestId: first.requestId,
        detail: `${denials.length} denied requests within ${Math.round((r.start - first.start) / 1000)} s`,
      });
      burstUntil = first.start + settings.burstWindowMs; // one flag per window
    }
  }
  return out;
}

/**
 * Requests served on the session after it ended (a sign-out, a revocation, an expiry, a
 * back-channel logout), on whichever replica: the session was used by someone who still had it.
 * Refused replays (the sidecar knew the session had ended) are not anomalies.
 */
export function usedAfterEnd(requests: readonly RequestRecord[], end: Session['end']): Anomaly[] {
  if (!end) return [];
  return requests
    .filter((r) => r.start > end.time && r.endedSession == null && r.status < 400 && r.identity !== null)
    .map((r) => ({
      kind: 'used_after_end' as const,
      time: r.start,
      requestId: r.requestId,
      detail: `${r.method} ${r.uri} served on ${r.host} ${((r.start - end.time) / 1000).toFixed(3)} s after the session ended (${end.kind}${end.detail ? `: ${end.detail}` : ''})`,
    }));
}
