import { isoTime } from '../../lib/iso-time.ts';
import { type Anomaly, endsNotCarried, findAnomalies, refusedElsewhere, usedAfterEnd } from './anomalies.ts';
import {
  type AuditRecord,
  type AuthRecord,
  type EndByNameType,
  isEndByName,
  type RequestRecord,
  type SignInStrength,
} from './audit-record.ts';

export type { Anomaly } from './anomalies.ts';

/** How a session ended, when the logs say. */
export type SessionEnd = 'logout' | 'expired' | 'revoked' | 'refresh_rejected';

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
    readonly privateEndpoint: string | null;
    readonly userAgent: string | null;
    /** How the sign-in authenticated the user, as far as its event says. */
    readonly signIn: SignInStrength;
  } | null;
  readonly end: {
    readonly kind: SessionEnd;
    readonly time: number;
    /** The AccessRevocation (revoked), or why it expired or was refused (expired, refresh_rejected). */
    readonly detail: string | null;
    /** revoked: the revocation's reason (an analyst's, `signed out on every device`, ...); else null. */
    readonly reason: string | null;
  } | null;
  /** First and last activity (the sign-in, a request's start, a response's end). */
  readonly first: number;
  readonly last: number;
  /** Client IPs and user agents, in the order first seen. */
  readonly ips: readonly string[];
  readonly userAgents: readonly string[];
  /** The private endpoints the requests came through (`aws:vpce-…`), in the order first seen. */
  readonly privateEndpoints: readonly string[];
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
  /** The latest time a line of this session was written (log time): it closes after a gap of silence. */
  lastSeen: number;
  /** Its earliest activity so far (a request's start, an event's time). */
  firstSeen: number;
  /** Its cookie refused in a browser it was not signed in with (session_refused). */
  refused: AuthRecord[];
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
  /** session_end_unreported events: ends that held in one sidecar only. */
  readonly #unreported: AuthRecord[] = [];
  /** session_end_delayed events: ends whose first round did not get through to the operator. */
  readonly #delayed: AuthRecord[] = [];
  /** session_end_reported events: ends that got through, at once or after a delay. */
  readonly #reported: AuthRecord[] = [];

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
        lastSeen: Number.NEGATIVE_INFINITY,
        firstSeen: Number.POSITIVE_INFINITY,
        refused: [],
      };
      this.#sessions.set(key, b);
    }
    return b;
  }

  /** A revocation_applied event ends this session when it covers its user (email, or subject and provider) and sign-in time. */
  #revokedBy(b: Builder): Session['end'] {
    const signedIn = b.login?.time ?? b.requests[0]?.start;
    let found: Session['end'] = null;
    for (const r of this.#revocations) {
      if (r.revokedBefore === null || !names(r, b)) continue;
      if (r.session != null) {
        // A sign-out here is carried to the other replicas by a revocation of its session, which
        // this sidecar logs too, often a millisecond before its logout line: the sign-out is the end.
        if (b.end?.kind === 'logout') continue;
        // One session named: its sign-in time does not matter.
        if (!found || r.time < found.time) found = revokedEnd(r);
        continue;
      }
      if (signedIn === undefined || Math.floor(signedIn / 1000) * 1000 > r.revokedBefore) continue;
      if (!found || r.time < found.time) found = revokedEnd(r);
    }
    return found;
  }

  /**
   * The ends of this session that held in one sidecar only, as far as the logs read show: those
   * naming it, made once it had begun, that the sidecar gave up (session_end_unreported), and
   * those whose first round failed (session_end_delayed) with no later line of that sidecar
   * saying how they went: a sidecar killed (SIGKILL, out of memory) while the operator could not
   * be reached writes no such line. An end given up or delayed that a later line reports (a
   * sidecar restarted with its session ends file sends it again) got through.
   */
  #notCarried(b: Builder): AuthRecord[] {
    const signedIn = b.login?.time ?? b.requests[0]?.start ?? b.firstSeen;
    const concerns = (u: AuthRecord): boolean => names(u, b) && (u.session != null || signedIn <= u.time);
    const settled = (d: AuthRecord): boolean =>
      [this.#reported, this.#unreported].some((list) => list.some((r) => r.time >= d.time && sameEnd(r, d)));
    // A sidecar restarted with --session-ends-file sends again what it gave up at its stop.
    const reportedLater = (u: AuthRecord): boolean =>
      this.#reported.some((r) => r.time >= u.time && sameEnd(r, u));
    return [
      ...this.#unreported.filter((u) => concerns(u) && !reportedLater(u)),
      ...this.#delayed.filter((d) => concerns(d) && !settled(d)),
    ];
  }

  /** Where the lines about ends by name are kept, by type, until a session they may end is finished. */
  readonly #endLines: Record<EndByNameType, AuthRecord[]> = {
    revocation_applied: this.#revocations,
    session_end_unreported: this.#unreported,
    session_end_delayed: this.#delayed,
    session_end_reported: this.#reported,
  };

  add(record: AuditRecord): void {
    if (isEndByName(record)) {
      this.#endLines[record.type].push(record);
      return;
    }
    if (record.kind === 'request') {
      // A refused replay of an ended session belongs to that session, not to anonymous traffic.
      const sessionId = record.sessionId ?? record.endedSession?.sessionId ?? null;
      if (sessionId === null) return;
      const b = this.#builder(record.app, sessionId);
      b.requests.push(record);
      b.lastSeen = Math.max(b.lastSeen, record.end);
      b.firstSeen = Math.min(b.firstSeen, record.start);
      b.email ??= record.identity?.email ?? record.endedSession?.email ?? null;
      b.sub ??= record.identity?.sub ?? record.endedSession?.sub ?? null;
      b.provider ??= record.identity?.idp ?? record.endedSession?.idp ?? null;
      return;
    }
    if (record.sessionId === null) return;
    const b = this.#builder(record.app, record.sessionId);
    b.lastSeen = Math.max(b.lastSeen, record.time);
    b.firstSeen = Math.min(b.firstSeen, record.time);
    b.email ??= record.email;
    b.sub ??= record.sub;
    b.provider ??= record.provider;
    if (record.type === 'login_succeeded') {
      b.login = {
        time: record.time,
        clientIp: record.clientIp,
        privateEndpoint: record.privateEndpoint ?? null,
        userAgent: record.userAgent,
        signIn: record.signIn ?? { authenticatedAt: null, amr: null, acr: null },
      };
      b.providerSession ??= record.providerSession ?? null;
      return;
    }
    if (record.type === 'session_refused') {
      b.refused.push(record);
      return;
    }
    const end =
      END_EVENTS[record.type] ??
      (record.type === 'session_refresh_failed' && record.reason === 'refresh_rejected'
        ? 'refresh_rejected'
        : undefined);
    if (end && (!b.end || record.time < b.end.time))
      b.end =
        end === 'revoked' && record.revocation !== null
          ? revokedEnd(record)
          : { kind: end, time: record.time, detail: record.revocation ?? record.reason, reason: null };
  }

  /** Every session, by first activity. */
  /** Every session, by first activity. */
  sessions(): Session[] {
    return [...this.#sessions.values()].map((b) => this.#finish(b)).sort(byFirst);
  }

  /**
   * Takes out the sessions silent (in log time) for longer than gapMs before the watermark: no
   * line of theirs can still come from time-ordered input. Revocations too old to end an open
   * session are forgotten. Memory stays bounded by the sessions open at one moment.
   */
  closeIdle(watermark: number, gapMs: number): Session[] {
    const out: Session[] = [];
    for (const [key, b] of this.#sessions)
      if (b.lastSeen < watermark - gapMs) {
        this.#sessions.delete(key);
        out.push(this.#finish(b));
      }
    const keepAfter = watermark - 2 * gapMs;
    for (const list of Object.values(this.#endLines))
      if (list.length > 0 && (list[0] as AuthRecord).time < keepAfter) {
        const kept = list.filter((r) => r.time >= keepAfter);
        list.length = 0;
        list.push(...kept);
      }
    return out;
  }

  /** Sessions still open. */
  get open(): number {
    return this.#sessions.size;
  }

  /** The earliest activity of an open session (Infinity when none): sessions that began before it can be output. */
  earliestOpen(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const b of this.#sessions.values()) {
      const first = Math.min(
        b.login?.time ?? Number.POSITIVE_INFINITY,
        b.requests[0]?.start ?? Number.POSITIVE_INFINITY,
      );
      for (const r of b.requests) if (r.start < earliest) earliest = Math.min(earliest, r.start);
      earliest = Math.min(earliest, first);
    }
    return earliest;
  }

  #finish(b: Builder): Session {
    const requests = withoutSuperseded(b.requests).sort(byStart);
    const ips: string[] = [];
    const userAgents: string[] = [];
    const note = (ip: string | null, ua: string | null) => {
      if (ip !== null && !ips.includes(ip)) ips.push(ip);
      if (ua !== null && !userAgents.includes(ua)) userAgents.push(ua);
    };
    if (b.login) note(b.login.clientIp, b.login.userAgent);
    const privateEndpoints: string[] = [];
    if (b.login?.privateEndpoint) privateEndpoints.push(b.login.privateEndpoint);
    for (const r of requests) {
      note(r.clientIp, r.userAgent);
      if (r.privateEndpoint && !privateEndpoints.includes(r.privateEndpoint))
        privateEndpoints.push(r.privateEndpoint);
    }
    const revoked = this.#revokedBy(b);
    const end = revoked && (!b.end || revoked.time < b.end.time) ? revoked : b.end;
    const times = [
      ...(b.login ? [b.login.time] : []),
      ...requests.flatMap((r, i) => (i === 0 || i === requests.length - 1 ? [r.start] : [])),
    ];
    if (times.length === 0 && end) times.push(end.time);
    // A request is activity until its response ended: a stream of events or a download that
    // began early and ran for hours (until a revocation cut it) was shown as over at its start.
    let lastEnd = Number.NEGATIVE_INFINITY;
    for (const r of requests) if (r.end > lastEnd) lastEnd = r.end;
    if (lastEnd !== Number.NEGATIVE_INFINITY) times.push(lastEnd);
    return {
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
      privateEndpoints,
      requests,
      anomalies: [
        ...findAnomalies(requests, this.#settings),
        ...usedAfterEnd(requests, end),
        ...endsNotCarried(this.#notCarried(b)),
        ...refusedElsewhere(b.refused),
      ].sort((x, y) => x.time - y.time),
    };
  }
}

/**
 * The requests with each one's `request_in_progress` records replaced: by its request line when
 * the logs have it, else by the latest of them (the request as it last stood: still going on
 * when the logs end, or when its sidecar was killed).
 */
export function withoutSuperseded(requests: RequestRecord[]): RequestRecord[] {
  if (!requests.some((r) => r.inProgress)) return requests;
  const key = (r: RequestRecord) => `${r.app}\u0000${r.requestId}`;
  const ended = new Set(requests.filter((r) => !r.inProgress).map(key));
  const latest = new Map<string, RequestRecord>();
  for (const r of requests) {
    if (!r.inProgress || ended.has(key(r))) continue;
    const seen = latest.get(key(r));
    if (!seen || r.end > seen.end) latest.set(key(r), r);
  }
  return [...requests.filter((r) => !r.inProgress), ...latest.values()];
}

/** Sessions by first activity, then id. */
export const byFirst = (a: Session, b: Session): number =>
  a.first - b.first || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0);

/** What the text and the page say after an end's kind and time: `<revocation>: <its reason>`, or the detail. */
export function endDetail(end: NonNullable<Session['end']>): string | null {
  if (end.reason === null || end.reason === '') return end.detail;
  return end.detail === null ? end.reason : `${end.detail}: ${end.reason}`;
}

/**
 * What the text and the page say of how a session's sign-in authenticated the user: its methods,
 * its class, and when the user authenticated at the provider when that was before the sign-in
 * (the provider kept a session of its own and asked nothing). `span` writes a duration the
 * renderer's way.
 */
export function signInText(login: NonNullable<Session['login']>, span: (ms: number) => string): string {
  const { amr, acr, authenticatedAt } = login.signIn;
  const parts: string[] = [];
  if (amr !== null) parts.push(amr.length > 0 ? amr.join(', ') : 'no methods named');
  if (acr !== null) parts.push(`acr ${acr}`);
  if (authenticatedAt !== null) {
    const before = login.time - authenticatedAt;
    parts.push(
      before >= 1000
        ? `authenticated at the provider ${isoTime(authenticatedAt)}, ${span(before)} before`
        : 'authenticated at the provider then',
    );
  }
  return parts.length > 0 ? parts.join(' · ') : 'not said (no amr, acr or auth_time in the sign-in)';
}

/** A session's end by a revocation (revocation_applied, session_revoked): its name and reason. */
function revokedEnd(r: AuthRecord): NonNullable<Session['end']> {
  return { kind: 'revoked', time: r.time, detail: r.revocation, reason: r.reason };
}

/** Whether two lines of session ends are about the same end: the same application and target. */
function sameEnd(a: AuthRecord, b: AuthRecord): boolean {
  if (a.app !== b.app) return false;
  if (a.session != null || b.session != null) return a.session === b.session;
  if (a.providerSession != null || b.providerSession != null)
    return a.providerSession === b.providerSession && a.provider === b.provider;
  return a.email === b.email && a.sub === b.sub && a.provider === b.provider;
}

/**
 * Whether an event that names sessions (a revocation, an end not carried) names this one: the
 * session itself, its provider session, or its user (email, or subject at the provider).
 */
function names(r: AuthRecord, b: Builder): boolean {
  if (r.app !== b.app) return false;
  const sameProvider = r.provider === null || r.provider === b.provider;
  if (r.session != null) return r.session === b.sessionId;
  if (r.providerSession != null) return r.providerSession === b.providerSession && sameProvider;
  if (r.email !== null) return b.email !== null && r.email.toLowerCase() === b.email.toLowerCase();
  return r.sub !== null && r.sub === b.sub && sameProvider;
}
