/**
 * The application's Protected and AppPortClosed conditions: whether every pod of it runs the
 * sidecar and no Service reaches it past one (pods-without-sidecar.ts, services-past-sidecar.ts),
 * and whether NetworkPolicies close its own port to the cluster (app-port-exposure.ts). Written by
 * the leader under a field manager of their own, with an Event when one changes.
 */

import { ACCESS_APPLICATIONS } from '../../../contract/api/resource-types.ts';
import type { Condition } from '../../../contract/api/status.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { APP_PORT_CONDITION, appPortCondition } from './app-port-condition.ts';
import type { AppPortExposure } from './app-port-exposure.ts';
import { withTransitionTime } from './conditions.ts';
import { type PodsWithoutSidecar, PROTECTED_CONDITION, protectedCondition } from './pods-without-sidecar.ts';
import type { ApplicationReconcilerContext } from './reconcile-application.ts';

/** The field manager that owns the Protected and AppPortClosed conditions (the Ready condition is gatehouse-operator's). */
export const PROTECTION_FIELD_MANAGER = 'gatehouse-operator-protection';

/** What writing the Protected condition needs: the application reconciler's, but a client of its own. */
export interface ProtectionContext
  extends Pick<ApplicationReconcilerContext, 'applications' | 'events' | 'isLeader' | 'now'> {
  /** A client whose field manager owns the Protected and AppPortClosed conditions only (the Ready condition is another's). */
  readonly client: KubeClient;
  readonly pods: PodsWithoutSidecar;
  /** The application's Service ports that reach it past its sidecar. */
  readonly servicesPast: (application: string) => string[];
  /** The application's own port as the NetworkPolicies of its namespace leave it. */
  readonly appPort: (application: string) => AppPortExposure;
  /** Counts a status write. */
  readonly written: () => void;
  /**
   * What was last written of each application, and over which version of it: until the cache
   * shows a newer version, a reconcile that wants the same writes nothing and records no Event
   * again (a second pod change right after a write would otherwise repeat both).
   */
  readonly recent: Map<string, { readonly over: string | undefined; readonly conditions: string }>;
}

type DesiredCondition = Omit<Condition, 'lastTransitionTime'>;

const same = (current: Condition | undefined, desired: DesiredCondition): boolean =>
  current !== undefined &&
  current.status === desired.status &&
  current.reason === desired.reason &&
  current.message === desired.message;

/**
 * Writes the application's Protected and AppPortClosed conditions when either changes (the leader
 * only), with an Event when one flips. Server-side apply under a field manager of its own, so the
 * Ready condition's writer and this one never overwrite each other's condition.
 */
export async function reconcileProtection(
  ctx: ProtectionContext,
  key: string,
): Promise<'ready' | 'not_ready' | 'skipped'> {
  const object = ctx.applications.get(key);
  if (!object || object.metadata.deletionTimestamp || !ctx.isLeader()) return 'skipped';
  const protection = protectedCondition(ctx.pods.of(key), ctx.servicesPast(key));
  const appPort = appPortCondition(ctx.appPort(key));
  const conditions = (object.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  const currentOf = (type: string) => conditions.find((c) => c.type === type);
  const result = protection.status === 'True' ? 'ready' : 'not_ready';
  const desired = [protection, appPort];
  if (desired.every((d) => same(currentOf(d.type), d))) {
    ctx.recent.delete(key);
    return result;
  }
  const wanted = JSON.stringify(desired);
  const recent = ctx.recent.get(key);
  if (recent !== undefined && recent.over === object.metadata.resourceVersion && recent.conditions === wanted)
    return result;
  const written = desired.map((d) => withTransitionTime(d, currentOf(d.type), ctx.now()));
  await ctx.client.apply(
    ACCESS_APPLICATIONS,
    {
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace ?? '' },
      status: { conditions: written },
    },
    'status',
  );
  ctx.written();
  ctx.recent.set(key, { over: object.metadata.resourceVersion, conditions: wanted });
  const protectedBefore = currentOf(PROTECTED_CONDITION);
  // The first word on an application with every pod injected is no news: no Event for it.
  if (!same(protectedBefore, protection) && (protectedBefore || protection.status === 'False'))
    ctx.events.record(
      object,
      protection.status === 'True' ? 'Normal' : 'Warning',
      protection.reason,
      protection.message,
      ctx.now(),
    );
  // Nor is the first word on the application's own port (most clusters start without
  // NetworkPolicies): an Event when it opens or closes later.
  const portBefore = currentOf(APP_PORT_CONDITION);
  if (
    portBefore !== undefined &&
    portBefore.status !== 'Unknown' &&
    appPort.status !== 'Unknown' &&
    (portBefore.status !== appPort.status || portBefore.reason !== appPort.reason)
  )
    ctx.events.record(
      object,
      appPort.status === 'True' ? 'Normal' : 'Warning',
      appPort.reason,
      appPort.message,
      ctx.now(),
    );
  return result;
}
