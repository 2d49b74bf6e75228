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
  /** Ends naming a key not known yet, by that key, in reading order. */
  readonly #waiting = new Map<string, AuthRecord[]>();

  /** Whether the end joins a session of the user now; if not, it waits. */
  offer(end: AuthRecord): boolean {
    const key = targetOf(end);
    if (key === null) return false;
    if (this.#known.has(key)) return true;
    const held = this.#waiting.get(key);
    if (!held) this.#waiting.set(key, [end]);
    // A revocation is logged by every replica: its first line is the one that counts.
    else if (!(end.type === 'revocation_applied' && held.some((h) => h.revocation === end.revocation)))
      held.push(end);
    return false;
  }

  /** A record of the user: what it names is known from now on; the ends that waited for it. */
  known(record: AuditRecord): AuthRecord[] {
    const joined: AuthRecord[] = [];
    for (const key of namesOf(record)) {
      if (this.#known.has(key)) continue;
      this.#known.add(key);
      const held = this.#waiting.get(key);
      if (held) {
        this.#waiting.delete(key);
        joined.push(...held);
      }
    }
    return joined;
  }

  /**
   * Forgets the waiting ends made before `time`. Keys wait in the order their first end was read,
   * which is time order for input read in order: the sweep stops at the first key still young.
   */
  forgetBefore(time: number): void {
    for (const [key, held] of this.#waiting) {
      if ((held[0] as AuthRecord).time >= time) break;
      this.#waiting.delete(key);
    }
  }

  /** Ends waiting now (for tests and bounds). */
  get waiting(): number {
    let n = 0;
    for (const held of this.#waiting.values()) n += held.length;
    return n;
  }
}

const keyOf = (kind: string, app: string, value: string): string => `${kind}\u0000${app}\u0000${value}`;

/** What an end by name names, as a key: one session, provider session, email or subject. */
function targetOf(end: AuthRecord): string | null {
  if (end.session != null) return keyOf('s', end.app, end.session);
  if (end.providerSession != null) return keyOf('p', end.app, end.providerSession);
  if (end.email !== null) return keyOf('e', end.app, end.email.toLowerCase());
  if (end.sub !== null) return keyOf('u', end.app, end.sub);
  return null;
}

/** The keys a record of the user makes known: its session, provider session, email and subject. */
function namesOf(record: AuditRecord): string[] {
  const keys: string[] = [];
  const app = record.app;
  const sessionId =
    record.kind === 'request'
      ? (record.sessionId ?? record.endedSession?.sessionId ?? null)
      : record.sessionId;
  if (sessionId !== null) keys.push(keyOf('s', app, sessionId));
  if (record.kind === 'auth' && record.providerSession != null)
    keys.push(keyOf('p', app, record.providerSession));
  const email =
    record.kind === 'request' ? (record.identity?.email ?? record.endedSession?.email) : record.email;
  if (email != null) keys.push(keyOf('e', app, email.toLowerCase()));
  const sub = record.kind === 'request' ? (record.identity?.sub ?? record.endedSession?.sub) : record.sub;
  if (sub != null) keys.push(keyOf('u', app, sub));
  return keys;
}
