import { type Revocation, sameFlatRecord } from '../../../contract/config/sidecar-config.ts';
import type { Session } from './session.ts';

/** What a revocation can name of a session. */
export type RevocableSession = Pick<Session, 'sid' | 'email' | 'sub' | 'idp' | 'iat' | 'psid'>;

/** The revocations of one config, indexed by user: answers "is this session ended?" in O(1). */
export interface RevocationIndex {
  /**
   * The revocation that ends this session, if any: same email (any case), or same subject (and
   * provider, when the revocation names one), signed in at or before its cut-off.
   */
  find(session: RevocableSession): Revocation | undefined;
  /** Whether a revocation of this name is in force. */
  has(name: string): boolean;
  /** The revocation of this name in force, if any. */
  named(name: string): Revocation | undefined;
  /**
   * Revocations not in `previous` as they are now: new to this sidecar, or changed under their
   * name (an AccessRevocation edited: its cut-off moved, another user), each logged once when it
   * arrives. Before, an edited one was enforced as edited without a line saying so.
   */
  added(previous: RevocationIndex | undefined): readonly Revocation[];
}

/**
 * Indexes a config's revocations by email, subject, session id and provider session id; for one
 * key the latest cut-off wins. A session id names one session: its cut-off does not matter.
 */
export function compileRevocations(revocations: readonly Revocation[]): RevocationIndex {
  const byUser = new Map<string, Revocation>();
  const bySubject = new Map<string, Revocation>();
  const bySession = new Map<string, Revocation>();
  const byProviderSession = new Map<string, Revocation>();
  const names = new Map<string, Revocation>();
  const keep = (map: Map<string, Revocation>, key: string, r: Revocation) => {
    const known = map.get(key);
    if (!known || r.before > known.before) map.set(key, r);
  };
  for (const r of revocations) {
    names.set(r.name, r);
    if (r.user !== null) keep(byUser, r.user.toLowerCase(), r);
    if (r.subject !== null) keep(bySubject, `${r.provider ?? ''}\u0000${r.subject}`, r);
    if (r.session !== undefined) bySession.set(r.session, r);
    if (r.providerSession !== undefined)
      keep(byProviderSession, `${r.provider ?? ''}\u0000${r.providerSession}`, r);
  }
  const covering = (r: Revocation | undefined, iat: number) => (r && iat <= r.before ? r : undefined);
  const byEmail = (session: Pick<Session, 'email' | 'iat'>) =>
    session.email === null ? undefined : covering(byUser.get(session.email.toLowerCase()), session.iat);
  const bySub = (session: Pick<Session, 'sub' | 'idp' | 'iat'>) =>
    covering(bySubject.get(`${session.idp}\u0000${session.sub}`), session.iat) ??
    covering(bySubject.get(`\u0000${session.sub}`), session.iat);
  return {
    // Every signed-in request asks: with no revocation of a kind, its lookup costs nothing.
    find(session) {
      return (
        (byUser.size > 0 ? byEmail(session) : undefined) ??
        (bySubject.size > 0 ? bySub(session) : undefined) ??
        (bySession.size > 0 ? bySession.get(session.sid) : undefined) ??
        (byProviderSession.size > 0 && session.psid !== undefined
          ? covering(byProviderSession.get(`${session.idp}\u0000${session.psid}`), session.iat)
          : undefined)
      );
    },
    has: (name) => names.has(name),
    named: (name) => names.get(name),
    added(previous) {
      if (!previous) return revocations;
      return revocations.filter((r) => {
        const was = previous.named(r.name);
        return was === undefined || (was !== r && !sameFlatRecord(r, was));
      });
    },
  };
}
