/**
 * Pods of an application that run without the Gatehouse sidecar. Such a pod's Service port is
 * the application's own (nothing took it over), so a request reaches the application with no
 * sign-in, no policy and no log line. It happens when the webhook did not inject the pod: its
 * failurePolicy Ignore while no operator answered, a namespace the webhook excludes, a pod created
 * with the labels but outside the webhook's selector. The operator says so on the application
 * (condition Protected), in an Event, and in a metric the chart alerts on.
 */

import { ACCESS_APPLICATIONS } from '../../../contract/api/resource-types.ts';
import type { Condition } from '../../../contract/api/status.ts';
import { APPLICATION_KEY, type PodContainers, runsWithoutSidecar } from '../../../contract/injection.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { type KubeObject, kubeTime } from '../../../lib/kube/kube-object.ts';
import { APP_PORT_CONDITION, appPortCondition } from './app-port-condition.ts';
import type { AppPortExposure } from './app-port-exposure.ts';
import type { ApplicationReconcilerContext } from './reconcile-application.ts';

/** The condition type on AccessApplication status. */
export const PROTECTED_CONDITION = 'Protected';
/** The field manager that owns the Protected condition (the Ready condition is gatehouse-operator's). */
export const PROTECTION_FIELD_MANAGER = 'gatehouse-operator-protection';

/** The pods without the sidecar of every application, kept from the pod cache's changes. */
export class PodsWithoutSidecar {
  /** Application key (namespace/name) → its pods without the sidecar (namespace/name). */
  readonly #byApplication = new Map<string, Set<string>>();
  /** Pod key → the application it counted for. */
  readonly #applicationOf = new Map<string, string>();

  /** A pod of the cache changed (undefined: deleted). Returns the applications whose list changed. */
  podChanged(key: string, pod: KubeObject | undefined): string[] {
    const namespace = key.slice(0, key.indexOf('/'));
    const name = pod?.metadata.labels?.[APPLICATION_KEY];
    const counts = pod !== undefined && name !== undefined && runsWithoutSidecar(pod as PodContainers);
    const before = this.#applicationOf.get(key);
    const after = counts ? `${namespace}/${name}` : undefined;
    if (before === after) return [];
    if (before !== undefined) {
      const pods = this.#byApplication.get(before);
      pods?.delete(key);
      if (pods?.size === 0) this.#byApplication.delete(before);
      this.#applicationOf.delete(key);
    }
    if (after !== undefined) {
      const pods = this.#byApplication.get(after) ?? new Set<string>();
      this.#byApplication.set(after, pods);
      pods.add(key);
      this.#applicationOf.set(key, after);
    }
    return [before, after].filter((app) => app !== undefined);
  }

  /** The application's pods without the sidecar, sorted. */
  of(application: string): string[] {
    return [...(this.#byApplication.get(application) ?? [])].sort();
  }

  /** How many pods without the sidecar each application has (applications with none are absent). */
  counts(): Map<string, number> {
    return new Map([...this.#byApplication].map(([app, pods]) => [app, pods.size]));
  }
}

/** Names listed in a message: the first ten, and how many more. */
function listed(names: readonly string[]): string {
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  return `${names.slice(0, 10).join(', ')}${more}`;
}

/**
 * The Protected condition an application should carry, without its transition time: False for
 * pods that run without the sidecar, and for Service ports that reach the application past it.
 */
export function protectedCondition(
  pods: readonly string[],
  services: readonly string[] = [],
): Omit<Condition, 'lastTransitionTime'> {
  const past =
    services.length === 0
      ? ''
      : `Service port${services.length === 1 ? '' : 's'} ${listed(services)} target${services.length === 1 ? 's' : ''} ` +
        'the application\u2019s own port, past the sidecar, so requests through them get no sign-in, policy or log ' +
        'line: target the port the sidecar took over by its name (targetPort: http), never the application\u2019s ' +
        'number or its app- name.';
  if (pods.length === 0 && services.length === 0)
    return {
      type: PROTECTED_CONDITION,
      status: 'True',
      reason: 'SidecarsInjected',
      message:
        'no pod of the application runs without the Gatehouse sidecar, and no Service reaches it past one',
    };
  if (pods.length === 0)
    return { type: PROTECTED_CONDITION, status: 'False', reason: 'ServicePastSidecar', message: past };
  const one = pods.length === 1;
  const [them, their] = one ? ['it', 'its'] : ['them', 'their'];
  return {
    type: PROTECTED_CONDITION,
    status: 'False',
    reason: 'PodsWithoutSidecar',
    message:
      `${pods.length} pod${one ? '' : 's'} of the application run${one ? 's' : ''} without the Gatehouse sidecar, ` +
      `so ${their} Service port reaches the application with no sign-in, policy or log line: ${listed(pods)}. ` +
      `The webhook did not inject ${them} (failurePolicy Ignore while no operator answered, a namespace the ` +
      `webhook excludes, or labels set outside a Deployment's opt-in); delete ${them} to have ${them} made again ` +
      `with the sidecar.${past ? ` ${past}` : ''}`,
  };
}

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
  const written: Condition[] = desired.map((d) => {
    const current = currentOf(d.type);
    return {
      ...d,
      lastTransitionTime:
        current && current.status === d.status ? current.lastTransitionTime : kubeTime(ctx.now()),
    };
  });
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
