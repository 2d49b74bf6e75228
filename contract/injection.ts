/**
 * The injection contract: the names users write to opt a workload in. On a Deployment they are annotations, which the
 * operator copies to the pod template as labels; on a pod template they can be labels directly.
 */

/** "true" opts a Deployment in (annotation) or a pod in (label, matched by the webhook's objectSelector). */
export const INJECT_KEY = 'gatehouse.dev/inject';
/**
 * The AccessApplication a workload serves (annotation on a Deployment, label or annotation on a
 * pod); the operator also labels the Secrets it owns for an application with it.
 */
export const APPLICATION_KEY = 'gatehouse.dev/application';
/** The injected sidecar's admin port (/metrics, /healthz, /readyz), by name: what a PodMonitor scrapes. */
export const SIDECAR_ADMIN_PORT_NAME = 'gatehouse-admin';
/** Pod annotation: which container port the sidecar takes over (its name or number). */
export const PORT_ANNOTATION = 'gatehouse.dev/port';
/** Pod annotation: the port the sidecar listens on (default from the injection settings). */
export const LISTEN_PORT_ANNOTATION = 'gatehouse.dev/listen-port';
/** Pod annotation the webhook sets; a pod carrying it is never injected again. */
export const INJECTED_ANNOTATION = 'gatehouse.dev/injected';
/** Name of the sidecar container. */
export const SIDECAR_CONTAINER = 'gatehouse';

/** The containers of a pod, as far as finding the sidecar needs them. */
export interface PodContainers {
  readonly spec?: {
    readonly containers?: readonly { readonly name: string }[];
    readonly initContainers?: readonly { readonly name: string }[];
  };
}

/** Whether the pod runs the Gatehouse sidecar (as a native sidecar or a regular container). */
export function hasSidecarContainer(pod: PodContainers): boolean {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
    (c) => c.name === SIDECAR_CONTAINER,
  );
}

/** What the pod's status says of one container (the fields Gatehouse reads). */
export interface ContainerStatus {
  readonly name: string;
  readonly ready?: boolean;
  readonly restartCount?: number;
  readonly state?: { readonly running?: unknown; readonly waiting?: { readonly reason?: string } };
}

/** The status of the pod's Gatehouse sidecar container, as a native sidecar or a regular container. */
export function sidecarContainerStatus(pod: object): ContainerStatus | undefined {
  const status = (pod as { readonly status?: unknown }).status as
    | {
        readonly initContainerStatuses?: readonly ContainerStatus[];
        readonly containerStatuses?: readonly ContainerStatus[];
      }
    | undefined;
  return [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])].find(
    (c) => c.name === SIDECAR_CONTAINER,
  );
}

/** Phases in which a pod serves nothing any more. */
const DONE_PHASES: ReadonlySet<string | undefined> = new Set(['Succeeded', 'Failed']);

/**
 * Whether a pod (labelled with an application) serves without the sidecar: no `gatehouse`
 * container and not done running. Its Service port is then the application's own, reached with
 * no sign-in, policy or log line.
 */
export function runsWithoutSidecar(pod: PodContainers & { readonly status?: unknown }): boolean {
  return !hasSidecarContainer(pod) && !DONE_PHASES.has((pod.status as { phase?: string } | undefined)?.phase);
}

/** A container as the injection leaves it: its ports, and for the sidecar its arguments. */
export interface InjectedContainer {
  readonly name: string;
  readonly args?: readonly string[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
}

/**
 * The application's own port in a pod the sidecar stands in front of: its number (the sidecar's
 * `--upstream-address 127.0.0.1:<port>`) and the names the pod's other containers give it. A
 * Service whose target is either reaches the application past the sidecar. Undefined for a pod
 * without the sidecar.
 */
export function portBehindSidecar(pod: {
  readonly spec?: {
    readonly containers?: readonly InjectedContainer[];
    readonly initContainers?: readonly InjectedContainer[];
  };
}): { readonly number: number; readonly names: readonly string[] } | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const args = all.find((c) => c.name === SIDECAR_CONTAINER)?.args ?? [];
  const address = args[args.indexOf('--upstream-address') + 1];
  const port = Number(/^(?:127\.0\.0\.1|\[::1\]|localhost):([0-9]{1,5})$/.exec(address ?? '')?.[1]);
  if (args.indexOf('--upstream-address') < 0 || !Number.isInteger(port) || port < 1) return undefined;
  const names = all
    .filter((c) => c.name !== SIDECAR_CONTAINER)
    .flatMap((c) =>
      (c.ports ?? []).filter((p) => p.containerPort === port && p.name).map((p) => p.name as string),
    );
  return { number: port, names };
}
