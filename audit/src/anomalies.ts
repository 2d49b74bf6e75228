import { clientNetwork } from '../../lib/net/address-bits.ts';
import { type AuthRecord, clientText, type RequestRecord } from './audit-record.ts';
import { revokeCommand } from './revoke-hint.ts';
import type { AnomalySettings, Session } from './sessions.ts';

/** Something in a session a person should look at. */
export interface Anomaly {
  readonly kind:
    | 'ip_change'
    | 'user_agent_change'
    | 'denial_burst'
    | 'used_after_end'
    | 'end_not_carried'
    | 'foreign_sign_in'
    | 'foreign_browser';
  /** When it happened (epoch ms) and the request it happened at. */
  readonly time: number;
  readonly requestId: string;
  readonly detail: string;
}

/**
 * A request refused its user: not one asked for a more recent sign-in (`fresh_sign_in_required`:
 * a tab that goes on polling once a `signedInWithin` window has passed gets one a request, and
 * made a burst of every user who did not sign in again at once).
 */
const isDenied = (r: RequestRecord): boolean =>
  (r.decision?.action === 'deny' || r.outcome === 'denied') &&
  r.decision?.reason !== 'fresh_sign_in_required';

/**
 * Moves to a value never seen before in the session (a new IP, a new user agent): one anomaly
 * each. Changes back and forth between values already seen (a thief and the victim using the
 * session at once) are counted into the last move's detail instead of flagged one by one.
 */
class Moves {
  readonly #seen = new Set<string | null>();
  #last: { index: number; flips: number } | null = null;
  readonly kind: 'ip_change' | 'user_agent_change';
  /** The value of a request as the detail shows it. */
  readonly show: (r: RequestRecord) => string;
  /** What counts as the same value (an IPv6 address: its /64). */
  readonly same: (r: RequestRecord) => string | null;
  constructor(
    kind: 'ip_change' | 'user_agent_change',
    show: (r: RequestRecord) => string,
    same: (r: RequestRecord) => string | null,
  ) {
    this.kind = kind;
    this.show = show;
    this.same = same;
  }

  /** Notes request `r`, which follows `previous` (undefined for the session's first). */
  note(out: Anomaly[], r: RequestRecord, previous: RequestRecord | undefined): void {
    const key = this.same(r);
    if (previous === undefined) {
      this.#seen.add(key);
      return;
    }
    if (key === this.same(previous)) return;
    if (this.#seen.has(key)) {
      if (this.#last) this.#last.flips++;
      return;
    }
    this.#seen.add(key);
    this.#finish(out);
    this.#last = { index: out.length, flips: 0 };
    out.push({
      kind: this.kind,
      time: r.start,
      requestId: r.requestId,
      detail: `moved to ${this.show(r)} (from ${this.show(previous)})`,
    });
  }

  #finish(out: Anomaly[]): void {
    if (!this.#last || this.#last.flips === 0) return;
    const a = out[this.#last.index] as Anomaly;
    out[this.#last.index] = { ...a, detail: `${a.detail}, then ${this.#last.flips} changes back and forth` };
  }

  end(out: Anomaly[]): void {
    this.#finish(out);
    this.#last = null;
  }
}

/**
 * Flags moves to a new IP or user agent (flips between known ones counted), bursts of denials,
 * and sign-ins of another browser refused in this session's.
 */
export function findAnomalies(requests: readonly RequestRecord[], settings: AnomalySettings): Anomaly[] {
  const out: Anomaly[] = [];
  let previous: RequestRecord | undefined;
  const denials: RequestRecord[] = [];
  let burstUntil = -1;
  // An IPv6 host has a /64 and moves within it (privacy addresses rotate): the same place. The
  // same address through another private endpoint is another consumer's network: a move.
  const ips = new Moves(
    'ip_change',
    (r) => clientText(r) ?? '?',
    (r) => (r.clientIp === null ? null : `${clientNetwork(r.clientIp)} ${r.privateEndpoint ?? ''}`),
  );
  const agents = new Moves(
    'user_agent_change',
    (r) => r.userAgent ?? '(none)',
    (r) => r.userAgent,
  );
  for (const r of requests) {
    ips.note(out, r, previous);
    agents.note(out, r, previous);
    previous = r;
    if (r.error === 'login_failed' && r.errorCause === 'browser_mismatch')
      out.push({
        kind: 'foreign_sign_in',
        time: r.start,
        requestId: r.requestId,
        detail:
          'a sign-in started in another browser was refused here: its login cookie was put into this browser (login CSRF)',
      });
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
  ips.end(out);
  agents.end(out);
  return out.sort((a, b) => a.time - b.time);
}

/**
 * Requests served on the session after it ended (a sign-out, a revocation, an expiry, a
 * logout from the provider), on whichever replica: the session was used by someone who still had it.
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

/**
 * Requests that brought the session's cookie from a browser it was not signed in with (its
 * `session_refused` lines, `other_browser`): the cookie was copied out of the user's browser, or
 * planted into someone else's to sign them in as this user. The sidecar refused each; where and
 * with what they came is the lead.
 */
export function refusedElsewhere(refusals: readonly AuthRecord[]): Anomaly[] {
  return refusals.map((r) => ({
    kind: 'foreign_browser' as const,
    time: r.time,
    requestId: r.requestId ?? '',
    detail: `its cookie came from a browser it was not signed in with (${clientText(r) ?? '?'}, ${r.userAgent ?? '(no user agent)'}) and was refused: copied out of the user's browser, or planted into another one`,
  }));
}

/**
 * Sign-outs and logouts from the provider of the session that held in one sidecar only
 * (`session_end_unreported`), or that the logs read do not show got through after a first round
 * that failed (`session_end_delayed` with no later line of it): the other replicas of the
 * application were never told, so they may accept the session until it expires. The analyst's way
 * out is `gatehouse revoke`: the detail gives the command that ends that session.
 */
export function endsNotCarried(ends: readonly AuthRecord[]): Anomaly[] {
  return ends.map((u) => {
    const what = u.session != null ? 'sign-out' : 'logout from the provider';
    const why =
      u.type === 'session_end_delayed'
        ? `held in one sidecar only as far as these logs show: its first round did not get through${u.error ? ` (${u.error})` : ''} and no later line says it did (the sidecar may have been killed first)`
        : `held in one sidecar only (${u.reason ?? 'unknown'}${u.error ? `: ${u.error}` : ''})`;
    return {
      kind: 'end_not_carried' as const,
      time: u.time,
      requestId: u.requestId ?? '',
      detail: `the ${what} ${why}; other replicas may accept the session until it expires: end it everywhere with ${revokeCommand(u)}`,
    };
  });
}
