/**
 * Services that reach an application past its sidecar. The injection gives the sidecar the name
 * of the port it takes over, so a Service that targets that name reaches the sidecar; one that
 * targets the application's port by number (`targetPort: 8080`, or no targetPort and `port:
 * 8080`), or by the name it was renamed to (`app-http`), reaches the application with no sign-in,
 * no policy and no log line. The webhook warns of an unnamed port, but its warnings go to whoever
 * created the pod: the ReplicaSet controller, which shows them to no one.
 */

import { APPLICATION_KEY, type InjectedContainer, portBehindSidecar } from '../../../contract/injection.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';

interface ServiceShape {
  readonly selector?: Readonly<Record<string, string>>;
  readonly ports?: readonly {
    readonly name?: string;
    readonly port: number;
    readonly targetPort?: number | string;
  }[];
}

/** One Service port that reaches the application's own port: `<service>:<port>`. */
export type ServicePort = string;

/** Whether the selector (non-empty) picks a pod with these labels. */
function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * The ports of the namespace's Services that select a pod of the application running the sidecar
 * and target its own port, sorted. `pods` and `services` are those of the application's namespace.
 */
export function servicesPastSidecar(
  application: string,
  pods: Iterable<KubeObject>,
  services: Iterable<KubeObject>,
): ServicePort[] {
  const targets: { labels: Readonly<Record<string, string>>; number: number; names: readonly string[] }[] =
    [];
  for (const pod of pods) {
    const labels = pod.metadata.labels ?? {};
    if (labels[APPLICATION_KEY] !== application) continue;
    const port = portBehindSidecar(
      pod as { spec?: { containers?: InjectedContainer[]; initContainers?: InjectedContainer[] } },
    );
    if (port) targets.push({ labels, ...port });
  }
  if (targets.length === 0) return [];
  const found = new Set<ServicePort>();
  for (const service of services) {
    const spec = (service.spec ?? {}) as ServiceShape;
    for (const target of targets) {
      if (!selects(spec.selector, target.labels)) continue;
      for (const port of spec.ports ?? []) {
        const to = port.targetPort ?? port.port;
        if (typeof to === 'number' ? to === target.number : target.names.includes(to))
          found.add(`${service.metadata.name}:${port.port}`);
      }
    }
  }
  return [...found].sort();
}
