/**
 * Pods of an application that run without the Gatehouse sidecar. Such a pod's Service port is
 * the application's own (nothing took it over), so a request reaches the application with no
 * sign-in, no policy and no log line. It happens when the webhook did not inject the pod: its
 * failurePolicy Ignore while no operator answered, a namespace the webhook excludes, a pod created
 * with the labels but outside the webhook's selector. The operator says so on the application
 * (condition Protected), in an Event, and in a metric the chart alerts on.
 */

import type { Condition } from '../../../contract/api/status.ts';
import { APPLICATION_KEY, type PodContainers, runsWithoutSidecar } from '../../../contract/injection.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';

/** The condition type on AccessApplication status. */
export const PROTECTED_CONDITION = 'Protected';

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
