import { DEFAULT_SESSION_ABSOLUTE_MS } from '../../../contract/config/render-auth.ts';
import { MAX_REVOCATIONS } from '../../../contract/config/sidecar-config.ts';
import {
  configSessionLifetimeMs,
  covers,
  type RevocationView,
  revocationsFor,
} from '../../../contract/revocations.ts';
import type { ConfigHub } from '../delivery/config-hub.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';

/** What sending an application's revocations on their own needs. */
export interface RevocationPublishing {
  readonly hub: ConfigHub;
  readonly metrics: OperatorMetrics;
  /** The AccessRevocations in force, read at the boundary. */
  readonly revocations: () => Iterable<RevocationView>;
  readonly now: () => Date;
}

/**
 * Sends an application's current revocations to its sidecars on their own (a `revocations`
 * message, applied to the config they run), when they differ from what they were sent. The
 * session lifetime that decides which revocations still matter is the spec's when it can be
 * read, else the served config's, else the default.
 */
export function publishRevocations(ctx: RevocationPublishing, key: string, lifetimeMs?: number): void {
  const served = ctx.hub.get(key)?.config;
  const lifetime = lifetimeMs ?? (served ? configSessionLifetimeMs(served) : DEFAULT_SESSION_ABSOLUTE_MS);
  const revocations = revocationsFor(key, lifetime, ctx.revocations(), ctx.now());
  // More than a sidecar takes: it would refuse them all and keep what it runs. Nothing is sent, so
  // the new ones stay pending (their status says so) instead of being reported as enforced; the
  // application's Ready condition says why (its render fails the same way).
  if (revocations.length > MAX_REVOCATIONS) return;
  if (ctx.hub.publishRevocations(key, revocations)) ctx.metrics.configPushes.inc();
}

/**
 * Sends every changed AccessRevocation to the config streams of the applications it covers at
 * once, without waiting for their renders. A new revocation re-renders every application it
 * covers, one at a time, behind whatever else is queued: with 500 applications of 20 policies
 * each, the last of them was sent it 2.5 to 2.9 s after it was stored. The renders still follow
 * (the config then carries it). Changes that come in one turn of the event loop go out together.
 */
export function createRevocationFanOut(
  ctx: RevocationPublishing,
  lifetimes: ReadonlyMap<string, number>,
): (before: RevocationView | undefined, after: RevocationView | undefined) => void {
  let changed: RevocationView[] = [];
  const flush = (): void => {
    const views = changed;
    changed = [];
    for (const key of [...ctx.hub.keys()])
      if (views.some((view) => covers(view, key))) publishRevocations(ctx, key, lifetimes.get(key));
  };
  return (before, after) => {
    if (changed.length === 0) setImmediate(flush);
    for (const view of [before, after]) if (view) changed.push(view);
  };
}
