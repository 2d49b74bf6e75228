import { createHash } from 'node:crypto';
import { withRevocations } from '../../../contract/config/render.ts';
import type { Revocation, SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import type { SessionEnd } from '../../../contract/session-ends.ts';

/** At most this many session ends wait for the config source to carry them. */
const MAX_PENDING = 10_000;

/** What a revocation names, whatever its name: how a local one is found again in a config. */
function keyOf(
  r: Pick<Revocation, 'user' | 'subject' | 'provider' | 'session' | 'providerSession' | 'before'>,
): string {
  if (r.session !== undefined) return `s\u0000${r.session}`;
  if (r.providerSession !== undefined) return `p\u0000${r.provider ?? ''}\u0000${r.providerSession}`;
  return `u\u0000${r.user ?? ''}\u0000${r.provider ?? ''}\u0000${r.subject ?? ''}\u0000${r.before}`;
}

/** The revocation a session end makes, named after what it ends so that replicas agree. */
export function revocationOf(end: SessionEnd): Revocation {
  const revocation: Revocation = {
    name: '',
    user: null,
    subject: end.subject ?? null,
    provider: end.provider ?? null,
    ...(end.session !== undefined ? { session: end.session } : {}),
    ...(end.providerSession !== undefined ? { providerSession: end.providerSession } : {}),
    before: end.before,
    reason: end.reason,
  };
  const digest = createHash('sha256').update(keyOf(revocation)).digest('hex').slice(0, 16);
  return { ...revocation, name: `session-end-${digest}` };
}

/**
 * Session ends this sidecar has enforced before its config source carries them (the operator
 * or the shared directory takes a moment). They are merged into every config installed until
 * one carries the same end, or until no session they name can still be alive.
 */
export class LocalRevocations {
  readonly #pending = new Map<string, { readonly revocation: Revocation; readonly until: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Adds a session end; `lifetimeMs` is the longest a session of the application lives. */
  add(end: SessionEnd, lifetimeMs: number): Revocation {
    const revocation = revocationOf(end);
    if (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(keyOf(revocation), { revocation, until: end.before * 1000 + lifetimeMs });
    return revocation;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** The config with the pending ends it does not carry yet; the same config when there are none. */
  merge(config: SidecarConfig): SidecarConfig {
    if (this.#pending.size === 0) return config;
    const carried = new Set(config.revocations.map(keyOf));
    const now = this.#now();
    const missing: Revocation[] = [];
    for (const [key, { revocation, until }] of this.#pending) {
      if (carried.has(key) || until <= now) this.#pending.delete(key);
      else missing.push(revocation);
    }
    return missing.length === 0 ? config : withRevocations(config, [...config.revocations, ...missing]);
  }
}
