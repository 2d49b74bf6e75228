import type { AuditRecord, AuthRecord, RequestRecord } from './audit-record.ts';

/** How a session ended, when the logs say. */
export type SessionEnd = 'logout' | 'expired' | 'revoked' | 'refresh_rejected';

/** Something in a session a person should look at. */
export interface Anomaly {
  readonly kind: 'ip_change' | 'user_agent_change' | 'denial_burst' | 'used_after_end';
  /** When it happened (epoch ms) and the request it happened at. */
  readonly time: number;
  readonly requestId: string;
  readonly detail: string;
}

/** One signed-in session of one application, rebuilt from the logs. */
export interface Session {
  readonly app: string;
  readonly sessionId: string;
  readonly email: string | null;
  readonly sub: string | null;
  readonly provider: string | null;
  /** The login_succeeded event, when it is in the logs read. */
  readonly login: {
    readonly time: number;
    readonly clientIp: string | null;
    readonly userAgent: string | null;
  } | null;
  readonly end: { readonly kind: SessionEnd; readonly time: number; readonly detail: string | null } | null;
  /** First and last activity (login or request). */
  readonly first: number;
  readonly last: number;
  /** Client IPs and user agents, in the order first seen. */
  readonly ips: readonly string[];
  readonly userAgents: readonly string[];
  /** Every request, by start time (ties by the sidecar sequence number, then request id). */
  readonly requests: readonly RequestRecord[];
  readonly anomalies: readonly Anomaly[];
}

export interface AnomalySettings {
  /** This many denied requests… */
  readonly burstCount: number;
  /** …within this many milliseconds make a denial burst. */
  readonly burstWindowMs: number;
}

export const DEFAULT_ANOMALY_SETTINGS: AnomalySettings = { burstCount: 5, burstWindowMs: 60_000 };

const END_EVENTS: Partial<Record<AuthRecord['type'], SessionEnd>> = {
  logout: 'logout',
  session_expired: 'expired',
  session_revoked: 'revoked',
};

interface Builder {
  app: string;
  sessionId: string;
  email: string | null;
  sub: string | null;
  provider: string | null;
  providerSession: string | null;
  login: Session['login'];
  end: Session['end'];
  requests: RequestRecord[];
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
function usedAfterEnd(requests: readonly RequestRecord[], end: Session['end']): Anomaly[] {
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

/** By start; within a millisecond by the sidecar's sequence number (exact within a sidecar), then by request id. */
export const byStart = (a: RequestRecord, b: RequestRecord): number =>
  a.start - b.start ||
  (a.seq ?? 0) - (b.seq ?? 0) ||
  (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0);

/**
 * Collects records into sessions. Records may come in any order and from any number of sidecars;
 * a session is an application's session id. Feed every record with add(), then take sessions().
 */
export class SessionBuilder {
  readonly #sessions = new Map<string, Builder>();
  readonly #settings: AnomalySettings;
  readonly #revocations: AuthRecord[] = [];

  constructor(settings: AnomalySettings = DEFAULT_ANOMALY_SETTINGS) {
    this.#settings = settings;
  }

  #builder(app: string, sessionId: string): Builder {
    const key = `${app}\u0000${sessionId}`;
    let b = this.#sessions.get(key);
    if (!b) {
      b = {
        app,
        sessionId,
        email: null,
        sub: null,
        provider: null,
        providerSession: null,
        login: null,
        end: null,
        requests: [],
      };
      this.#sessions.set(key, b);
    }
    return b;
  }

  /** A revocation_applied event ends this session when it covers its user (email, or subject and provider) and sign-in time. */
  #revokedBy(b: Builder): Session['end'] {
    const email = b.email?.toLowerCase();
    const signedIn = b.login?.time ?? b.requests[0]?.start;
    let found: Session['end'] = null;
    for (const r of this.#revocations) {
      if (r.app !== b.app || r.revokedBefore === null) continue;
      const sameProvider = r.provider === null || r.provider === b.provider;
      const sameUser =
        r.session != null
          ? r.session === b.sessionId
          : r.providerSession != null
            ? r.providerSession === b.providerSession && sameProvider
            : r.email !== null
              ? email !== undefined && r.email.toLowerCase() === email
              : r.sub !== null && r.sub === b.sub && sameProvider;
      if (!sameUser) continue;
      if (r.session != null) {
        // One session named: its sign-in time does not matter.
        if (!found || r.time < found.time) found = { kind: 'revoked', time: r.time, detail: r.revocation };
        continue;
      }
      if (signedIn === undefined || Math.floor(signedIn / 1000) * 1000 > r.revokedBefore) continue;
      if (!found || r.time < found.time) found = { kind: 'revoked', time: r.time, detail: r.revocation };
    }
    return found;
  }

  add(record: AuditRecord): void {
    if (record.kind === 'auth' && record.type === 'revocation_applied') {
      this.#revocations.push(record);
      return;
    }
    if (record.kind === 'request') {
      // A refused replay of an ended session belongs to that session, not to anonymous traffic.
      const sessionId = record.sessionId ?? record.endedSession?.sessionId ?? null;
      if (sessionId === null) return;
      const b = this.#builder(record.app, sessionId);
      b.requests.push(record);
      b.email ??= record.identity?.email ?? record.endedSession?.email ?? null;
      b.sub ??= record.identity?.sub ?? record.endedSession?.sub ?? null;
      b.provider ??= record.identity?.idp ?? record.endedSession?.idp ?? null;
      return;
    }
    if (record.sessionId === null) return;
    const b = this.#builder(record.app, record.sessionId);
    b.email ??= record.email;
    b.sub ??= record.sub;
    b.provider ??= record.provider;
    if (record.type === 'login_succeeded') {
      b.login = { time: record.time, clientIp: record.clientIp, userAgent: record.userAgent };
      b.providerSession ??= record.providerSession ?? null;
      return;
    }
    const end =
      END_EVENTS[record.type] ??
      (record.type === 'session_refresh_failed' && record.reason === 'refresh_rejected'
        ? 'refresh_rejected'
        : undefined);
    if (end && (!b.end || record.time < b.end.time))
      b.end = { kind: end, time: record.time, detail: record.revocation ?? record.reason };
  }

  /** Every session, by first activity. */
  sessions(): Session[] {
    const out: Session[] = [];
    for (const b of this.#sessions.values()) {
      const requests = b.requests.sort(byStart);
      const ips: string[] = [];
      const userAgents: string[] = [];
      const note = (ip: string | null, ua: string | null) => {
        if (ip !== null && !ips.includes(ip)) ips.push(ip);
        if (ua !== null && !userAgents.includes(ua)) userAgents.push(ua);
      };
      if (b.login) note(b.login.clientIp, b.login.userAgent);
      for (const r of requests) note(r.clientIp, r.userAgent);
      const revoked = this.#revokedBy(b);
      const end = revoked && (!b.end || revoked.time < b.end.time) ? revoked : b.end;
      const times = [
        ...(b.login ? [b.login.time] : []),
        ...requests.flatMap((r, i) => (i === 0 || i === requests.length - 1 ? [r.start] : [])),
      ];
      if (times.length === 0 && end) times.push(end.time);
      out.push({
        app: b.app,
        sessionId: b.sessionId,
        email: b.email,
        sub: b.sub,
        provider: b.provider,
        login: b.login,
        end,
        first: Math.min(...times),
        last: Math.max(...times),
        ips,
        userAgents,
        requests,
        anomalies: [...findAnomalies(requests, this.#settings), ...usedAfterEnd(requests, end)].sort(
          (x, y) => x.time - y.time,
        ),
      });
    }
    return out.sort((a, b) => a.first - b.first || (a.sessionId < b.sessionId ? -1 : 1));
  }
}
