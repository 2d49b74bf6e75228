import type { Revocation } from '../config/sidecar-config.ts';
import type { Session } from './session.ts';

/** The revocations of one config, indexed by user: answers "is this session ended?" in O(1). */
export interface RevocationIndex {
  readonly size: number;
  /** The revocation that ends this session, if any: same email (any case), signed in at or before its cut-off. */
  find(session: Pick<Session, 'email' | 'iat'>): Revocation | undefined;
  /** Whether a revocation of this name is in force. */
  has(name: string): boolean;
  /** Revocations not in `previous` (by name): new to this sidecar, logged once when they arrive. */
  added(previous: RevocationIndex | undefined): readonly Revocation[];
}

/** Indexes a config's revocations; for one user the latest cut-off wins. */
export function compileRevocations(revocations: readonly Revocation[]): RevocationIndex {
  const byUser = new Map<string, Revocation>();
  const names = new Set<string>();
  for (const r of revocations) {
    names.add(r.name);
    const user = r.user.toLowerCase();
    const known = byUser.get(user);
    if (!known || r.before > known.before) byUser.set(user, r);
  }
  return {
    size: revocations.length,
    find(session) {
      if (session.email === null) return undefined;
      const revocation = byUser.get(session.email.toLowerCase());
      return revocation && session.iat <= revocation.before ? revocation : undefined;
    },
    has: (name) => names.has(name),
    added(previous) {
      return previous ? revocations.filter((r) => !previous.has(r.name)) : revocations;
    },
  };
}
