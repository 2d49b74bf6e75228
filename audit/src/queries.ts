import { createAddressSet } from '../../lib/net/cidr.ts';
import {
  type AuditRecord,
  ENDS_BY_NAME,
  isEndByName,
  type RequestRecord,
  recordEmail,
  recordSubject,
  recordTime,
} from './audit-record.ts';
import { EndsByName } from './ends-by-name.ts';
import { caseInsensitiveNeedles, type Needles } from './line-scanner.ts';
import { type AnomalySettings, byStart, type Session, SessionBuilder } from './sessions.ts';

/** The time range of a query (epoch ms, inclusive); open ends are infinite. */
export interface TimeRange {
  readonly since: number;
  readonly until: number;
}

export const ALL_TIME: TimeRange = { since: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };

/** What the investigator asks. */
export type AuditQuery =
  | { readonly kind: 'sessions'; readonly user?: string; readonly sub?: string; readonly range: TimeRange }
  /**
   * `ip`: an address as the sidecar logs it, or a range (`2001:db8:1:2::/64`, `10.0.0.0/8`); or a
   * private endpoint (`aws:vpce-…`); or both: the address through that endpoint.
   */
  | {
      readonly kind: 'ip';
      readonly ip: string | null;
      readonly endpoint: string | null;
      readonly range: TimeRange;
    }
  | {
      readonly kind: 'requests';
      readonly path?: string;
      readonly app?: string;
      readonly user?: string;
      readonly range: TimeRange;
    };

/** Where an `ip` question looks: `from 10.0.0.7`, `through aws:vpce-…`, or both. */
export function whereText(query: Extract<AuditQuery, { kind: 'ip' }>): string {
  if (query.ip === null) return `through ${query.endpoint}`;
  return `from ${query.ip}${query.endpoint === null ? '' : ` through ${query.endpoint}`}`;
}

/** A user seen from an address. */
export interface UserAtAddress {
  readonly user: string;
  readonly first: number;
  readonly last: number;
  readonly requests: number;
  readonly logins: number;
  readonly apps: readonly string[];
  readonly sessions: readonly string[];
}

export type AuditAnswer =
  | { readonly kind: 'sessions'; readonly query: AuditQuery; readonly sessions: readonly Session[] }
  | { readonly kind: 'ip'; readonly query: AuditQuery; readonly users: readonly UserAtAddress[] }
  | { readonly kind: 'requests'; readonly query: AuditQuery; readonly requests: readonly RequestRecord[] };

/**
 * Each needle as a line holds it, and as a line carried inside a JSON string holds it (a Splunk
 * export's `_raw`), where the quotes and backslashes of the line are escaped.
 */
function inBothForms(needles: readonly string[]): string[] {
  return [...new Set(needles.flatMap((needle) => [needle, JSON.stringify(needle).slice(1, -1)]))];
}

const exact = (needles: readonly string[]): Buffer[] =>
  inBothForms(needles).map((needle) => Buffer.from(needle));

/** Byte strings every line the query needs contains; lines without any are never decoded. */
export function queryNeedles(query: AuditQuery): Buffer[] | Needles {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  // Email addresses compare without regard to case: the provider may spell them Grace.Hopper@…
  const email = (s: string) => caseInsensitiveNeedles(inBothForms([json(s)]));
  if (query.kind === 'sessions') {
    const ends = ENDS_BY_NAME.map((type) => JSON.stringify(type));
    if (query.user) return caseInsensitiveNeedles(inBothForms([json(query.user), ...ends]));
    if (query.sub) return exact([JSON.stringify(query.sub), ...ends]);
    return [];
  }
  // A range has no one spelling to look for: every line is read (unless an endpoint narrows it).
  if (query.kind === 'ip') {
    if (query.endpoint !== null) return exact([JSON.stringify(query.endpoint)]);
    return query.ip === null || query.ip.includes('/') ? [] : exact([JSON.stringify(query.ip)]);
  }
  if (query.user) return email(query.user);
  if (query.app) return exact([JSON.stringify(query.app)]);
  if (query.path) {
    const literal = query.path.endsWith('*') ? query.path.slice(0, -1) : query.path;
    return literal ? exact([json(literal)]) : [];
  }
  return [];
}

const inRange = (t: number, range: TimeRange): boolean => t >= range.since && t <= range.until;
const sameEmail = (a: string | null, b: string): boolean => a !== null && a.toLowerCase() === b.toLowerCase();
const uriPath = (uri: string): string => {
  const q = uri.indexOf('?');
  return q === -1 ? uri : uri.slice(0, q);
};

/** A path filter: exact, or a prefix when it ends in `*` (`/admin/*`). */
export function pathMatches(filter: string, uri: string): boolean {
  const path = uriPath(uri);
  return filter.endsWith('*') ? path.startsWith(filter.slice(0, -1)) : path === filter;
}

/** Places a request is moved back to keep start order as it comes; farther, the rest is sorted when asked for. */
const MAX_PLACE_STEPS = 64;

/** Consumes records and answers one query. */
export function createQueryRunner(query: AuditQuery, anomalies?: AnomalySettings) {
  // One address, compared as logged; or a range (an IPv6 host may send from any address of its
  // /64); and the private endpoint, when one is asked for, exactly.
  const ip = query.kind === 'ip' ? query.ip : null;
  const endpoint = query.kind === 'ip' ? query.endpoint : null;
  const within = ip?.includes('/') ? createAddressSet([ip]) : undefined;
  const fromAddress = (record: { clientIp: string | null; privateEndpoint?: string | null }): boolean => {
    if (endpoint !== null && record.privateEndpoint !== endpoint) return false;
    if (ip === null) return true;
    return within ? record.clientIp !== null && within.has(record.clientIp) : record.clientIp === ip;
  };
  const builder = new SessionBuilder(anomalies);
  const users = new Map<
    string,
    {
      first: number;
      last: number;
      requests: number;
      logins: number;
      apps: Set<string>;
      sessions: Set<string>;
    }
  >();
  /** The requests of a requests query, in start order; those before `released` were given out. */
  const requests: RequestRecord[] = [];
  let released = 0;
  /** Requests in progress (their latest `request_in_progress` record), by application and id. */
  const inProgress = new Map<string, RequestRecord>();
  /** Requests whose request line came after one of their in-progress records: later ones are stale. */
  const ended = new Set<string>();
  /** Whether `requests` after `released` is in start order (else it is sorted when asked for). */
  let inOrder = true;
  const sortRequests = (): void => {
    if (inOrder) return;
    const rest = requests.slice(released).sort(byStart);
    requests.length = released;
    for (const request of rest) requests.push(request);
    inOrder = true;
  };
  const requestsLeft = (): RequestRecord[] => {
    sortRequests();
    return requests.slice(released);
  };
  // The same file given twice, or logs collected twice, must not count twice.
  // Identity → line time, in reading order (time order for merged input), so old ones go first.
  const seen = new Map<string, number>();
  let duplicates = 0;
  const identityOf = (record: AuditRecord): string =>
    record.kind === 'request'
      ? `${record.inProgress ? `p\u0000${record.end}` : 'r'}\u0000${record.app}\u0000${record.requestId}`
      : `a\u0000${record.type}\u0000${record.time}\u0000${record.app}\u0000${record.requestId ?? ''}\u0000${record.sessionId ?? ''}\u0000${record.revocation ?? ''}\u0000${record.session ?? ''}\u0000${record.providerSession ?? ''}`;

  const inQueryRange = (s: Session): boolean => s.last >= query.range.since && s.first <= query.range.until;
  const ends = query.kind === 'sessions' && (query.user || query.sub) ? new EndsByName() : undefined;
  const addForSessions = (record: AuditRecord, user?: string, sub?: string): void => {
    if (!ends) {
      builder.add(record);
      return;
    }
    // Ends by name join the sessions they name: those of the user are kept, the rest wait.
    if (isEndByName(record)) {
      if (ends.offer(record)) builder.add(record);
      return;
    }
    if (user !== undefined && !sameEmail(recordEmail(record), user)) return;
    if (sub !== undefined && recordSubject(record) !== sub) return;
    builder.add(record);
    for (const end of ends.known(record)) builder.add(end);
  };

  return {
    /** Records dropped because the same line (request id, or event) was read before. */
    get duplicates(): number {
      return duplicates;
    },
    add(record: AuditRecord): void {
      const identity = identityOf(record);
      if (seen.has(identity)) {
        duplicates++;
        return;
      }
      seen.set(identity, record.kind === 'request' ? record.end : record.time);
      switch (query.kind) {
        case 'sessions':
          addForSessions(record, query.user, query.sub);
          return;
        case 'ip': {
          if (record.kind === 'request' && record.inProgress) return; // its request line counts it
          if (!fromAddress(record) || !inRange(recordTime(record), query.range)) return;
          if (record.kind === 'auth' && record.type !== 'login_succeeded') return;
          const email = recordEmail(record);
          const sub = recordSubject(record);
          const key = email ?? (sub ? `sub:${sub}` : '(anonymous)');
          let u = users.get(key);
          if (!u) {
            u = {
              first: Infinity,
              last: -Infinity,
              requests: 0,
              logins: 0,
              apps: new Set(),
              sessions: new Set(),
            };
            users.set(key, u);
          }
          const t = recordTime(record);
          u.first = Math.min(u.first, t);
          u.last = Math.max(u.last, t);
          if (record.kind === 'request') u.requests++;
          else u.logins++;
          u.apps.add(record.app);
          if (record.sessionId) u.sessions.add(record.sessionId);
          return;
        }
        case 'requests': {
          if (record.kind !== 'request' || !inRange(record.start, query.range)) return;
          if (query.app !== undefined && record.app !== query.app) return;
          if (query.path !== undefined && !pathMatches(query.path, record.uri)) return;
          if (query.user !== undefined && !sameEmail(record.identity?.email ?? null, query.user)) return;
          // A request in progress waits for its request line, which replaces it; those that never
          // get one (still going on when the logs end, or their sidecar killed) come last.
          const key = `${record.app}\u0000${record.requestId}`;
          if (record.inProgress) {
            const seen = inProgress.get(key);
            if (!ended.has(key) && (!seen || record.end > seen.end)) inProgress.set(key, record);
            return;
          }
          if (inProgress.delete(key)) ended.add(key);
          // Kept in start order as they come (nearly in that order already: lines are written at
          // a request's end), so the earliest can be given out while reading goes on. One far
          // out of place (input not in time order) leaves the rest to be sorted when asked for.
          let at = requests.length;
          const nearest = Math.max(released, at - MAX_PLACE_STEPS);
          while (inOrder && at > nearest && byStart(requests[at - 1] as RequestRecord, record) > 0) at--;
          if (at === nearest && at > released) inOrder = false;
          if (!inOrder || at === requests.length) requests.push(record);
          else requests.splice(at, 0, record);
          return;
        }
      }
    },
    /**
     * Forgets line identities older than the window before the watermark: a duplicate of a line
     * (the same file twice, merged by time) arrives within moments of the original.
     */
    forgetBefore(watermark: number, windowMs: number): void {
      for (const [identity, time] of seen) {
        if (time >= watermark - windowMs) break;
        seen.delete(identity);
      }
    },
    /** Forgets the ends by name still waiting for a session of the user that were made before `time`. */
    forgetEndsBefore(time: number): void {
      ends?.forgetBefore(time);
    },
    /** Sessions silent for longer than gapMs before the watermark, finished (sessions queries). */
    closeIdle(watermark: number, gapMs: number): Session[] {
      return builder.closeIdle(watermark, gapMs).filter(inQueryRange);
    },
    /**
     * The requests (of a requests query) that started before `time`, in start order, given out
     * once: the answer then holds only those after.
     */
    releaseRequestsBefore(time: number): RequestRecord[] {
      sortRequests();
      let end = released;
      while (end < requests.length && (requests[end] as RequestRecord).start < time) end++;
      const out = requests.slice(released, end);
      released = end;
      // Drop what was given out once it is most of the array.
      if (released > 4096 && released * 2 > requests.length) {
        requests.splice(0, released);
        released = 0;
      }
      return out;
    },
    /** The earliest activity of a session still open. */
    earliestOpen: () => builder.earliestOpen(),
    answer(): AuditAnswer {
      if (query.kind === 'sessions')
        return {
          kind: 'sessions',
          query,
          sessions: builder.sessions().filter(inQueryRange),
        };
      if (query.kind === 'ip')
        return {
          kind: 'ip',
          query,
          users: [...users]
            .map(([user, u]) => ({
              user,
              first: u.first,
              last: u.last,
              requests: u.requests,
              logins: u.logins,
              apps: [...u.apps].sort(),
              sessions: [...u.sessions].sort(),
            }))
            .sort((a, b) => a.first - b.first),
        };
      if (inProgress.size > 0) {
        // Input out of time order may bring a request line before its in-progress records.
        const left = new Set(requestsLeft().map((r) => `${r.app}\u0000${r.requestId}`));
        for (const key of left) inProgress.delete(key);
        requests.push(...inProgress.values());
        inProgress.clear();
        inOrder = false;
      }
      return {
        kind: 'requests',
        query,
        requests: requestsLeft(),
      };
    },
  };
}
