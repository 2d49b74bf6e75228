/** The parts of a Pod the injector reads and writes; everything else passes through untouched. */

export interface ContainerPortLike {
  name?: string;
  containerPort: number;
  protocol?: string;
  [field: string]: unknown;
}

export interface HandlerLike {
  httpGet?: { port: number | string; [field: string]: unknown };
  tcpSocket?: { port: number | string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface ContainerLike {
  name: string;
  ports?: ContainerPortLike[];
  livenessProbe?: HandlerLike;
  readinessProbe?: HandlerLike;
  startupProbe?: HandlerLike;
  lifecycle?: { postStart?: HandlerLike; preStop?: HandlerLike; [field: string]: unknown };
  [field: string]: unknown;
}

export interface PodLike {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec?: {
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
    volumes?: { name: string; [field: string]: unknown }[];
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

function rewriteHandler(
  handler: HandlerLike | undefined,
  name: string,
  port: number,
): HandlerLike | undefined {
  if (!handler) return handler;
  let next = handler;
  for (const kind of ['httpGet', 'tcpSocket'] as const) {
    const action = next[kind];
    if (action && action.port === name) next = { ...next, [kind]: { ...action, port } };
  }
  return next;
}

/**
 * A container whose probes and lifecycle hooks that name port `name` give its number instead:
 * once the port is renamed, the kubelet still reaches the app directly, as before.
 */
export function rewriteNamedPort(container: ContainerLike, name: string, port: number): ContainerLike {
  const next: ContainerLike = { ...container };
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const rewritten = rewriteHandler(container[probe], name, port);
    if (rewritten) next[probe] = rewritten;
  }
  if (container.lifecycle) {
    const lifecycle = { ...container.lifecycle };
    for (const hook of ['postStart', 'preStop'] as const) {
      const rewritten = rewriteHandler(lifecycle[hook], name, port);
      if (rewritten) lifecycle[hook] = rewritten;
    }
    next.lifecycle = lifecycle;
  }
  return next;
}

/**
 * JSON Patch (RFC 6902) operations that turn `before` into `after`, one `add` per changed field
 * of the few the injector touches (`add` replaces a member that exists).
 */
export function podPatch(before: PodLike, after: PodLike): { op: 'add'; path: string; value: unknown }[] {
  const ops: { op: 'add'; path: string; value: unknown }[] = [];
  const fields = [
    ['metadata', 'labels'],
    ['metadata', 'annotations'],
    ['spec', 'serviceAccountName'],
    ['spec', 'initContainers'],
    ['spec', 'containers'],
    ['spec', 'volumes'],
  ] as const;
  for (const [section, field] of fields) {
    const was = (before[section] as Record<string, unknown> | undefined)?.[field];
    const now = (after[section] as Record<string, unknown> | undefined)?.[field];
    if (now !== undefined && JSON.stringify(was) !== JSON.stringify(now))
      ops.push({ op: 'add', path: `/${section}/${field}`, value: now });
  }
  return ops;
}
