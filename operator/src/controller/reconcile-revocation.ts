import type { AccessRevocationStatus } from '../../../contract/api/access-revocation.ts';
import { ACCESS_REVOCATIONS } from '../../../contract/api/resource-types.ts';
import { DEFAULT_SESSION_ABSOLUTE_MS } from '../../../contract/config/render-auth.ts';
import {
  configSessionLifetimeMs,
  covers,
  type RevocationView,
  revocationExpiry,
  revocationTarget,
} from '../../../contract/revocations.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { type KubeObject, kubeTime } from '../../../lib/kube/kube-object.ts';
import type { ConfigHub } from '../delivery/config-hub.ts';
import type { OperatorLog } from '../operator-log.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { desiredStatus, sameStatus } from './conditions.ts';

export interface RevocationReconcilerContext {
  readonly client: KubeClient;
  readonly revocations: { get(key: string): KubeObject | undefined };
  /** The revocation as read at the boundary (the operator keeps one reading per object). */
  readonly view: (name: string) => RevocationView | undefined;
  /** The session lifetime of every valid application (0 when it signs nobody in), by namespace/name. */
  readonly sessionLifetimes: ReadonlyMap<string, number>;
  readonly hub: ConfigHub;
  readonly metrics: OperatorMetrics;
  readonly isLeader: () => boolean;
  readonly now: () => Date;
  /** Reconcile this revocation again after ms (its expiry, or a moment later while sidecars catch up). */
  readonly later: (name: string, ms: number) => void;
  readonly log: OperatorLog;
}

/**
 * The session lifetime of every application a revocation may cover: each valid one, and each
 * one that cannot be rendered now but whose sidecars are still served (its last config's
 * lifetime, or the default when the operator has none), so that an application in trouble is
 * neither left out of the confirmation nor of the expiry.
 */
function coveredLifetimes(ctx: RevocationReconcilerContext): Map<string, number> {
  const lifetimes = new Map(ctx.sessionLifetimes);
  for (const key of ctx.hub.keys()) {
    if (lifetimes.has(key)) continue;
    const served = ctx.hub.get(key)?.config;
    lifetimes.set(key, served ? configSessionLifetimeMs(served) : DEFAULT_SESSION_ABSOLUTE_MS);
  }
  return lifetimes;
}

/** How soon to look again while some application's config does not carry the revocation yet. */
const PENDING_RECHECK_MS = 250;

/**
 * One AccessRevocation: delete it once no session it covers can be alive; otherwise report where
 * it is enforced (Ready once every covered application's served config carries it) and when it
 * expires, and come back at that time. Sidecars get it through their application's config.
 */
export async function reconcileRevocation(
  ctx: RevocationReconcilerContext,
  name: string,
): Promise<'ready' | 'not_ready' | 'skipped' | 'expired'> {
  const object = ctx.revocations.get(`/${name}`);
  if (!object || object.metadata.deletionTimestamp) return 'skipped';
  const revocation = ctx.view(name);
  if (!revocation) return 'skipped';
  const lifetimes = coveredLifetimes(ctx);
  const expiresAt = revocationExpiry(revocation, lifetimes);
  const now = ctx.now();
  if (expiresAt.getTime() <= now.getTime()) {
    if (!ctx.isLeader()) return 'expired';
    await ctx.client.delete(ACCESS_REVOCATIONS, undefined, name);
    ctx.metrics.writes.inc({ what: 'revocation_delete' });
    ctx.log('revocation_expired', {
      revocation: name,
      ...revocationTarget(revocation),
      expiredAt: kubeTime(expiresAt),
    });
    return 'expired';
  }
  const covered = [...lifetimes.keys()].filter((key) => covers(revocation, key)).sort();
  const pending = covered.filter((key) => {
    const served = ctx.hub.servedRevocations(key);
    return served !== undefined && !served.has(name);
  });
  const ready = pending.length === 0;
  const current = object.status as AccessRevocationStatus | undefined;
  const next = desiredStatus(
    current,
    object.metadata.generation,
    ready
      ? {
          status: 'True',
          reason: 'Enforced',
          message: `in the config of ${covered.length} application${covered.length === 1 ? '' : 's'}`,
        }
      : { status: 'False', reason: 'Pending', message: `not yet in the config of ${pending.join(', ')}` },
    now,
    {
      revokedBefore: kubeTime(new Date(revocation.before * 1000)),
      applications: covered,
      expiresAt: kubeTime(expiresAt),
    },
  );
  if (ctx.isLeader() && !sameStatus(current, next)) {
    await ctx.client.apply(ACCESS_REVOCATIONS, { metadata: { name }, status: next }, 'status');
    ctx.metrics.writes.inc({ what: 'status' });
  }
  ctx.later(name, ready ? expiresAt.getTime() - now.getTime() : PENDING_RECHECK_MS);
  return ready ? 'ready' : 'not_ready';
}
