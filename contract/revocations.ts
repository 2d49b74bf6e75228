import { parseDurationMs } from '../lib/duration.ts';
import type { KubeObject } from '../lib/kube/kube-object.ts';
import type { AccessApplication } from './api/access-application.ts';
import { AccessRevocation } from './api/access-revocation.ts';
import { schemaErrors } from './api/validate.ts';
import { DEFAULT_SESSION_ABSOLUTE_MS } from './config/render-auth.ts';
import type { Revocation, SidecarConfig } from './config/sidecar-config.ts';
import { SESSION_END_ACCOUNT, SESSION_END_ACCOUNT_LABEL } from './session-ends.ts';

/** An AccessRevocation as the operator reasons about it. */
export interface RevocationView {
  readonly name: string;
  /** Lower-cased email, or null when the revocation names a subject. */
  readonly user: string | null;
  readonly subject: string | null;
  readonly provider: string | null;
  /** One Gatehouse session id (a sign-out); absent otherwise. */
  readonly session?: string;
  /** The identity provider's session id (a back-channel or front-channel logout); absent otherwise. */
  readonly providerSession?: string;
  /** Cut-off, epoch seconds: sessions signed in at or before it end. */
  readonly before: number;
  readonly reason: string | null;
  /** namespace/name keys; null covers every application. */
  readonly applications: ReadonlySet<string> | null;
  /** A session end's account (SESSION_END_ACCOUNT_LABEL), counted towards SESSION_ENDS_PER_ACCOUNT. */
  readonly account?: string;
}

/** Reads an AccessRevocation at the boundary; undefined when it does not match the schema. */
export function readRevocation(object: KubeObject): RevocationView | undefined {
  if (schemaErrors(AccessRevocation, object, '').length > 0) return undefined;
  const { spec, metadata } = object as unknown as AccessRevocation & {
    metadata: { creationTimestamp?: string; labels?: Record<string, unknown> };
  };
  const account = metadata.labels?.[SESSION_END_ACCOUNT_LABEL];
  // The API server enforces these with CEL; checked again for objects that did not pass through it.
  const keys = [spec.user, spec.subject, spec.session, spec.providerSession].filter((k) => k !== undefined);
  if (keys.length !== 1) return undefined;
  if (spec.provider !== undefined && spec.subject === undefined && spec.providerSession === undefined)
    return undefined;
  if (spec.providerSession !== undefined && spec.provider === undefined) return undefined;
  const at = Date.parse(spec.revokedBefore ?? metadata.creationTimestamp ?? '');
  if (Number.isNaN(at)) return undefined;
  return {
    name: metadata.name,
    user: spec.user?.toLowerCase() ?? null,
    subject: spec.subject ?? null,
    provider: spec.provider ?? null,
    ...(spec.session !== undefined ? { session: spec.session } : {}),
    ...(spec.providerSession !== undefined ? { providerSession: spec.providerSession } : {}),
    before: Math.floor(at / 1000),
    reason: spec.reason ?? null,
    applications: spec.applications?.length ? new Set(spec.applications) : null,
    ...(typeof account === 'string' && SESSION_END_ACCOUNT.test(account) ? { account } : {}),
  };
}

/** True when two readings of a revocation would render the same into every config. */
export function sameRevocation(a: RevocationView | undefined, b: RevocationView | undefined): boolean {
  if (!a || !b) return a === b;
  const apps = (v: RevocationView) => (v.applications === null ? null : [...v.applications].sort().join(','));
  return (
    a.user === b.user &&
    a.subject === b.subject &&
    a.provider === b.provider &&
    a.session === b.session &&
    a.providerSession === b.providerSession &&
    a.before === b.before &&
    a.reason === b.reason &&
    apps(a) === apps(b)
  );
}

/** Whether a revocation applies to the application with this namespace/name key. */
export function covers(revocation: RevocationView, applicationKey: string): boolean {
  return revocation.applications === null || revocation.applications.has(applicationKey);
}

/** Longest life of a session of this application (0 when it signs nobody in, so has no sessions). */
export function sessionLifetimeMs(application: AccessApplication): number {
  const auth = application.spec.authentication;
  if (!auth?.identityProviders?.length) return 0;
  const configured = auth.session?.absoluteLifetime;
  return (configured && parseDurationMs(configured)) || DEFAULT_SESSION_ABSOLUTE_MS;
}

/** Longest life of a session under a rendered config (0 when it signs nobody in). */
export function configSessionLifetimeMs(config: SidecarConfig): number {
  return config.auth.providers.length > 0 ? config.auth.session.absoluteMs : 0;
}

/**
 * The revocations a sidecar of this application must enforce at `now`: those covering it whose
 * sessions could still be alive here (cut-off plus this application's session lifetime ahead).
 */
export function revocationsFor(
  applicationKey: string,
  lifetimeMs: number,
  revocations: Iterable<RevocationView>,
  now: Date,
): Revocation[] {
  const out: Revocation[] = [];
  for (const r of revocations)
    if (inForceFor(r, applicationKey, lifetimeMs, now)) out.push(revocationOfView(r));
  return out;
}

/**
 * Each reading's revocation, made once: a reading kept from one load to the next (the operator's
 * cache, a standalone sidecar's unchanged files) gives the same frozen object, which the render
 * neither freezes nor writes out again (contentHash).
 */
const revocationsOfViews = new WeakMap<RevocationView, Revocation>();

function revocationOfView(r: RevocationView): Revocation {
  let revocation = revocationsOfViews.get(r);
  if (revocation === undefined) {
    revocation = Object.freeze({
      name: r.name,
      user: r.user,
      subject: r.subject,
      provider: r.provider,
      ...(r.session !== undefined ? { session: r.session } : {}),
      ...(r.providerSession !== undefined ? { providerSession: r.providerSession } : {}),
      before: r.before,
      reason: r.reason,
    });
    revocationsOfViews.set(r, revocation);
  }
  return revocation;
}

/** Whether a revocation covers the application and a session of it may still be alive. */
function inForceFor(r: RevocationView, applicationKey: string, lifetimeMs: number, now: Date): boolean {
  return covers(r, applicationKey) && r.before * 1000 + lifetimeMs > now.getTime();
}

/** Of the revocations in force for an application, the session ends that name each account. */
export function accountEndsFor(
  applicationKey: string,
  lifetimeMs: number,
  revocations: Iterable<RevocationView>,
  now: Date,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of revocations)
    if (r.account !== undefined && inForceFor(r, applicationKey, lifetimeMs, now))
      counts.set(r.account, (counts.get(r.account) ?? 0) + 1);
  return counts;
}

/**
 * When no session a revocation covers can still be alive: its cut-off plus the longest session
 * lifetime among the applications it covers (the cut-off itself when none has sessions).
 */
export function revocationExpiry(
  revocation: RevocationView,
  sessionLifetimes: Iterable<readonly [applicationKey: string, lifetimeMs: number]>,
): Date {
  let longest = 0;
  for (const [key, lifetimeMs] of sessionLifetimes)
    if (covers(revocation, key)) longest = Math.max(longest, lifetimeMs);
  return new Date(revocation.before * 1000 + longest);
}

/** Whose sessions a revocation ends, as the log lines and messages name it. */
export function revocationTarget(r: {
  readonly user: string | null;
  readonly subject: string | null;
  readonly provider: string | null;
  readonly session?: string | null | undefined;
  readonly providerSession?: string | null | undefined;
}):
  | { user: string }
  | { session: string }
  | { providerSession: string; provider: string | null }
  | { subject: string | null; provider: string | null } {
  if (r.user !== null) return { user: r.user };
  if (r.session !== undefined && r.session !== null) return { session: r.session };
  if (r.providerSession !== undefined && r.providerSession !== null)
    return { providerSession: r.providerSession, provider: r.provider };
  return { subject: r.subject, provider: r.provider };
}
