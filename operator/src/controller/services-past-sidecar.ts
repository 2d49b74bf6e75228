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

/** The label naming an EndpointSlice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

interface SliceShape {
  readonly ports?: readonly { readonly name?: string; readonly port?: number }[];
  readonly endpoints?: readonly { readonly addresses?: readonly string[] }[];
}

/** Whether the selector (non-empty) picks a pod with these labels. */
function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * The ports of the namespace's Services that reach a pod of the application running the sidecar
 * at its own port, sorted: by their selector and target port, or, for a Service without a
 * selector, by the endpoints written for it by hand (`slices`: EndpointSlices no selector keeps,
 * naming the pod's address and that port). `pods`, `services` and `slices` are those of the
 * application's namespace.
 */
export function servicesPastSidecar(
  application: string,
  pods: Iterable<KubeObject>,
  services: Iterable<KubeObject>,
  slices: Iterable<KubeObject> = [],
): ServicePort[] {
  const targets: { labels: Readonly<Record<string, string>>; number: number; names: readonly string[] }[] =
    [];
  /** The application's own port at each address of its pods that run the sidecar. */
  const addresses = new Map<string, number>();
  for (const pod of pods) {
    const labels = pod.metadata.labels ?? {};
    if (labels[APPLICATION_KEY] !== application) continue;
    const port = portBehindSidecar(
      pod as { spec?: { containers?: InjectedContainer[]; initContainers?: InjectedContainer[] } },
    );
    if (!port) continue;
    targets.push({ labels, ...port });
    for (const { ip } of (pod.status as { podIPs?: { ip: string }[] } | undefined)?.podIPs ?? [])
      addresses.set(ip, port.number);
  }
  if (targets.length === 0) return [];
  const found = new Set<ServicePort>();
  // Read twice below: an iterable of the cache may be a one-time generator.
  const namespaceServices = [...services];
  const byName = new Map<string, ServiceShape>();
  for (const service of namespaceServices)
    byName.set(service.metadata.name, (service.spec ?? {}) as ServiceShape);
  for (const slice of slices) {
    const serviceName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    const service = serviceName ? byName.get(serviceName) : undefined;
    if (serviceName === undefined || service === undefined || Object.keys(service.selector ?? {}).length > 0)
      continue;
    const { ports, endpoints } = slice as unknown as SliceShape;
    for (const endpoint of endpoints ?? [])
      for (const address of endpoint.addresses ?? []) {
        const own = addresses.get(address);
        // A slice port is the port on the endpoint; the Service's port of the same name leads to it.
        for (const port of ports ?? [])
          if (port.port === own) {
            const servicePort = (service.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? ''));
            found.add(`${serviceName}:${servicePort?.port ?? port.port}`);
          }
      }
  }
  for (const service of namespaceServices) {
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
