import type { AuditRecord, AuthRecord } from './audit-record.ts';

/**
 * The ends by name (`revocation_applied`, `session_end_unreported`) that may join the sessions of
 * one user or subject. Those lines name a session, a provider session, a subject or an email,
 * seldom the user asked about, so all of them are read; but only those naming what the user's
 * own records name are kept for the sessions. One naming something not seen yet waits (a session
 * whose lines in the logs read come after its end: a replay on a replica that missed it), once
 * per revocation, until it is older than the builder keeps revocations for. Without this, a
 * user's question over a month of a busy cluster's logs held every sign-out of everyone.
 */
export class EndsByName {
  /** What the user's records name: keys of sessions, provider sessions, subjects and emails. */
  readonly #known = new Set<string>();
  /**
   * Ends naming something not known yet, by the value they name (a session id, ...: the string
   * the end holds already), in reading order: an end alone, or those naming one value. Busy
   * clusters' logs hold hundreds of thousands of sign-outs a day, each waiting a day: a key
   * joined from three strings and an array per end took about 620 bytes of heap an end.
   */
  readonly #waiting = new Map<string, Waiting>();
  /** One copy of the strings ends repeat (event types, applications, reasons, providers). */
  readonly #strings = new Map<string, string>();

  /** Whether the end joins a session of the user now; if not, it waits. */
  offer(end: AuthRecord): boolean {
    const target = targetOf(end);
    if (target === null) return false;
    if (this.#known.has(keyOf(target.kind, end.app, target.value))) return true;
    const held = this.#waiting.get(target.value);
    if (held === undefined) {
      this.#waiting.set(target.value, this.#compact(end));
      return false;
    }
    const all = Array.isArray(held) ? held : [held];
    // A revocation is logged by every replica: its first line is the one that counts.
    if (
      end.type === 'revocation_applied' &&
      all.some((h) => sameTarget(h, end) && h.revocation === end.revocation)
    )
      return false;
    if (Array.isArray(held)) held.push(this.#compact(end));
    else this.#waiting.set(target.value, [held, this.#compact(end)]);
    return false;
  }

  /** A record of the user: what it names is known from now on; the ends that waited for it. */
  known(record: AuditRecord): AuthRecord[] {
    const joined: AuthRecord[] = [];
    for (const { kind, value } of namesOf(record)) {
      const key = keyOf(kind, record.app, value);
      if (this.#known.has(key)) continue;
      this.#known.add(key);
      const held = this.#waiting.get(value);
      if (held === undefined) continue;
      const all = Array.isArray(held) ? held : [held];
      // The same value may be named in another application, or as another kind: those stay.
      const names = (h: AuthRecord) => h.app === record.app && targetOf(h)?.kind === kind;
      const rest = all.filter((h) => !names(h));
      joined.push(...all.filter(names));
      if (rest.length === 0) this.#waiting.delete(value);
      else if (rest.length < all.length)
        this.#waiting.set(value, rest.length === 1 ? (rest[0] as AuthRecord) : rest);
    }
    return joined;
  }

  /**
   * Forgets the waiting ends made before `time`. Values wait in the order their first end was
   * read, which is time order for input read in order: the sweep stops at the first one still young.
   */
  forgetBefore(time: number): void {
    for (const [value, held] of this.#waiting) {
      if ((Array.isArray(held) ? (held[0] as AuthRecord) : held).time >= time) break;
      this.#waiting.delete(value);
      if (!Array.isArray(held)) continue;
      // Those made since wait on, behind the others (the sweep meets them again and stops).
      const young = held.filter((h) => h.time >= time);
      if (young.length > 0) this.#waiting.set(value, young.length === 1 ? (young[0] as AuthRecord) : young);
    }
  }

  /** Ends waiting now (for tests and bounds). */
  get waiting(): number {
    let n = 0;
    for (const held of this.#waiting.values()) n += Array.isArray(held) ? held.length : 1;
    return n;
  }

  #shared(text: string): string {
    const known = this.#strings.get(text);
    if (known !== undefined) return known;
    if (this.#strings.size < MAX_SHARED_STRINGS) this.#strings.set(text, text);
    return text;
  }

  /** The end as it waits: the same record, its repeated strings shared with the other ends. */
  #compact(end: AuthRecord): AuthRecord {
    return {
      ...end,
      type: this.#shared(end.type) as AuthRecord['type'],
      app: this.#shared(end.app),
      reason: end.reason === null ? null : this.#shared(end.reason),
      provider: end.provider === null ? null : this.#shared(end.provider),
    };
  }
}

/** An end waiting, or the ends naming one value in reading order. */
type Waiting = AuthRecord | AuthRecord[];

/** Distinct repeated strings kept one copy of; beyond them, strings are kept as read. */
const MAX_SHARED_STRINGS = 4096;

/** Whether two ends name the same thing in the same application. */
function sameTarget(a: AuthRecord, b: AuthRecord): boolean {
  const x = targetOf(a);
  const y = targetOf(b);
  return a.app === b.app && x !== null && y !== null && x.kind === y.kind && x.value === y.value;
}

const keyOf = (kind: string, app: string, value: string): string => `${kind}\u0000${app}\u0000${value}`;

/** What an end by name names: one session, provider session, email or subject. */
function targetOf(end: AuthRecord): { readonly kind: string; readonly value: string } | null {
  if (end.session != null) return { kind: 's', value: end.session };
  if (end.providerSession != null) return { kind: 'p', value: end.providerSession };
  if (end.email !== null) return { kind: 'e', value: end.email.toLowerCase() };
  if (end.sub !== null) return { kind: 'u', value: end.sub };
  return null;
}

/** What a record of the user makes known: its session, provider session, email and subject. */
function namesOf(record: AuditRecord): { readonly kind: string; readonly value: string }[] {
  const names: { kind: string; value: string }[] = [];
  const sessionId =
    record.kind === 'request'
      ? (record.sessionId ?? record.endedSession?.sessionId ?? null)
      : record.sessionId;
  if (sessionId !== null) names.push({ kind: 's', value: sessionId });
  if (record.kind === 'auth' && record.providerSession != null)
    names.push({ kind: 'p', value: record.providerSession });
  const email =
    record.kind === 'request' ? (record.identity?.email ?? record.endedSession?.email) : record.email;
  if (email != null) names.push({ kind: 'e', value: email.toLowerCase() });
  const sub = record.kind === 'request' ? (record.identity?.sub ?? record.endedSession?.sub) : record.sub;
  if (sub != null) names.push({ kind: 'u', value: sub });
  return names;
}
