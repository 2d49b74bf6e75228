import { OPERATOR_CA_ENV, STREAM_AUDIENCE } from '../../../contract/config-stream.ts';
import {
  APPLICATION_KEY,
  hasSidecarContainer,
  INJECT_KEY,
  INJECTED_ANNOTATION,
  LISTEN_PORT_ANNOTATION,
  PORT_ANNOTATION,
  SIDECAR_ADMIN_PORT_NAME,
  SIDECAR_CONTAINER,
} from '../../../contract/injection.ts';
import { SIDECAR_NODE_ENV } from '../../../contract/sidecar-node-options.ts';
import { isObjectName } from '../../../lib/kube/kube-object.ts';
import type { InjectionSettings } from './injection-settings.ts';
import { type ContainerLike, type ContainerPortLike, type PodLike, rewriteNamedPort } from './pod-shape.ts';

export const TOKEN_VOLUME = 'gatehouse-token';
export const TOKEN_DIR = '/var/run/secrets/gatehouse';
/**
 * The sidecar's own state, an emptyDir: it lives as long as the pod, so a restart of the sidecar
 * container finds what the run before kept there (its session ends).
 */
export const STATE_VOLUME = 'gatehouse-state';
export const STATE_DIR = '/var/run/gatehouse';
/** The emptyDir's bound: the session ends file stays under 8 MiB, and as much again while it is written anew. */
const STATE_SIZE_LIMIT = '32Mi';
const UNNAMED_PORT_NAME = 'gatehouse';
/**
 * The Cluster Autoscaler does not drain a node whose pods have local volumes (an emptyDir, such as
 * the sidecar's state) unless each is listed here: without it, every injected pod would keep its
 * node from being scaled down. The state lives only as long as the pod, so it may go with it.
 */
const SAFE_TO_EVICT_LOCAL_VOLUMES = 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes';

/** Why the webhook refused a pod; the message says what to change. */
export type InjectionRefusal =
  | 'application_missing'
  | 'application_invalid'
  | 'port_not_found'
  | 'port_ambiguous'
  | 'port_not_tcp'
  | 'port_conflict'
  | 'name_conflict'
  | 'host_network';

export type InjectionResult =
  | { readonly kind: 'skipped'; readonly reason: 'not_requested' | 'already_injected' }
  | { readonly kind: 'injected'; readonly pod: PodLike; readonly warnings: readonly string[] }
  | { readonly kind: 'refused'; readonly code: InjectionRefusal; readonly message: string };

export interface InjectionContext {
  readonly settings: InjectionSettings;
  /** PEM bundle of the CAs that sign the operator's serving certificate. */
  readonly caBundle: string;
  /** Whether the sidecar becomes an init container with restartPolicy Always (Kubernetes ≥ 1.29). */
  readonly nativeSidecar: boolean;
}

interface TakenPort {
  readonly container: number;
  readonly index: number;
  readonly name: string | undefined;
  readonly number: number;
  readonly protocol: string;
  /** The node's port (and address) that forwards to it; the sidecar's port takes them over. */
  readonly host: { readonly hostPort: number; readonly hostIP?: string } | undefined;
}

class Refused extends Error {
  readonly code: InjectionRefusal;
  constructor(code: InjectionRefusal, message: string) {
    super(message);
    this.code = code;
  }
}

/** The pod's ports: the annotated one, else the one named http, else the only one. */
function takenPort(pod: PodLike): TakenPort {
  const all: TakenPort[] = (pod.spec?.containers ?? []).flatMap((c, container) =>
    (c.ports ?? []).map((p, index) => ({
      container,
      index,
      name: p.name,
      number: p.containerPort,
      protocol: p.protocol ?? 'TCP',
      host: nodePort(p),
    })),
  );
  const wanted = pod.metadata?.annotations?.[PORT_ANNOTATION];
  let found: TakenPort | undefined;
  if (wanted !== undefined) {
    found = /^[0-9]+$/.test(wanted)
      ? all.find((p) => p.number === Number(wanted))
      : all.find((p) => p.name === wanted);
    if (!found)
      throw new Refused(
        'port_not_found',
        `annotation ${PORT_ANNOTATION}: no container port ${JSON.stringify(wanted)}`,
      );
  } else {
    found = all.find((p) => p.name === 'http');
    if (!found) {
      const tcp = all.filter((p) => p.protocol === 'TCP');
      if (tcp.length === 0)
        throw new Refused(
          'port_not_found',
          `no container port to put the sidecar in front of; set ${PORT_ANNOTATION}`,
        );
      if (tcp.length > 1)
        throw new Refused(
          'port_ambiguous',
          `several container ports and none is named http; set ${PORT_ANNOTATION} to the one the Service targets`,
        );
      found = tcp[0] as TakenPort;
    }
  }
  if (found.protocol !== 'TCP')
    throw new Refused(
      'port_not_tcp',
      `port ${found.name ?? found.number} is not TCP; the sidecar serves HTTP over TCP`,
    );
  return found;
}

/** A container port's hostPort and hostIP, if it has a hostPort. */
function nodePort(port: ContainerPortLike): TakenPort['host'] {
  if (typeof port.hostPort !== 'number') return undefined;
  return typeof port.hostIP === 'string'
    ? { hostPort: port.hostPort, hostIP: port.hostIP }
    : { hostPort: port.hostPort };
}

/** The app's taken port: renamed when it had a name, without the node's port it gives the sidecar. */
function appPort(port: ContainerPortLike, newName: string | undefined): ContainerPortLike {
  const { hostPort: _hostPort, hostIP: _hostIP, ...rest } = port;
  return newName === undefined ? rest : { ...rest, name: newName };
}

/** The pod's pull secrets with the sidecar's added (each name once); nothing when there are none to add. */
function pullSecrets(pod: PodLike, names: readonly string[]): { imagePullSecrets?: { name?: string }[] } {
  if (names.length === 0) return {};
  const own = (pod.spec?.imagePullSecrets as { name?: string }[] | undefined) ?? [];
  const present = new Set(own.map((s) => s.name));
  return { imagePullSecrets: [...own, ...names.filter((n) => !present.has(n)).map((name) => ({ name }))] };
}

/** A comma-separated list with `name` in it (added at the end when missing). */
function withListed(list: string | undefined, name: string): string {
  const names = (list ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return names.includes(name) ? (list as string) : [...names, name].join(',');
}

/** app-<name>, cut to the 15 characters a port name may have. */
function renamedPortName(name: string): string {
  return `app-${name}`.slice(0, 15).replace(/-+$/, '');
}

function portNumber(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < 1 || n > 65535)
    throw new Refused(
      'port_conflict',
      `annotation ${LISTEN_PORT_ANNOTATION}: not a port number (got ${JSON.stringify(text)})`,
    );
  return n;
}

/**
 * A native sidecar gets SIGTERM only once the application's containers have exited, so a delay
 * would accept connections with no application behind them: answered 502 where a refused
 * connection is one an ingress tries elsewhere. It stops accepting at once, unless the chart's
 * args say otherwise. A regular container gets SIGTERM with the application and keeps the
 * sidecar's default delay.
 */
function shutdownDelayArgs(context: InjectionContext): string[] {
  const given = context.settings.args.some((arg) => arg.startsWith('--shutdown-delay='));
  return context.nativeSidecar && !given ? ['--shutdown-delay=0s'] : [];
}

/** The egress proxy as the environment variables the sidecar reads (egress-proxy.ts). */
function egressProxyEnv(
  proxy: InjectionContext['settings']['egressProxy'],
): { name: string; value: string }[] {
  const env: { name: string; value: string }[] = [];
  if (proxy.httpsProxy) env.push({ name: 'HTTPS_PROXY', value: proxy.httpsProxy });
  if (proxy.httpProxy) env.push({ name: 'HTTP_PROXY', value: proxy.httpProxy });
  if (proxy.noProxy) env.push({ name: 'NO_PROXY', value: proxy.noProxy });
  return env;
}

function sidecarContainer(
  context: InjectionContext,
  application: string,
  taken: TakenPort,
  listenPort: number,
): ContainerLike {
  const { settings } = context;
  return {
    name: SIDECAR_CONTAINER,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: [
      'sidecar',
      '--operator-url',
      settings.operatorUrl,
      '--token-file',
      `${TOKEN_DIR}/token`,
      '--application',
      application,
      '--listen',
      `:${listenPort}`,
      '--admin-listen',
      `:${settings.adminPort}`,
      '--upstream-address',
      `127.0.0.1:${taken.number}`,
      '--session-ends-file',
      `${STATE_DIR}/session-ends.jsonl`,
      ...shutdownDelayArgs(context),
      ...settings.args,
    ],
    env: [
      { name: OPERATOR_CA_ENV, value: context.caBundle },
      ...Object.entries(SIDECAR_NODE_ENV).map(([name, value]) => ({ name, value })),
      ...egressProxyEnv(settings.egressProxy),
    ],
    ports: [
      { name: taken.name ?? UNNAMED_PORT_NAME, containerPort: listenPort, protocol: 'TCP', ...taken.host },
      { name: SIDECAR_ADMIN_PORT_NAME, containerPort: settings.adminPort, protocol: 'TCP' },
    ],
    readinessProbe: {
      httpGet: { path: '/readyz', port: settings.adminPort },
      periodSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: settings.adminPort },
      periodSeconds: 10,
      failureThreshold: 3,
    },
    resources: {
      requests: { ...settings.resources.requests },
      limits: { ...settings.resources.limits },
    },
    securityContext: {
      runAsNonRoot: true,
      ...(settings.runAsUser === null
        ? {}
        : { runAsUser: settings.runAsUser, runAsGroup: settings.runAsUser }),
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: STATE_VOLUME, mountPath: STATE_DIR },
    ],
    ...(context.nativeSidecar ? { restartPolicy: 'Always' } : {}),
  };
}

/**
 * Puts the sidecar in front of a pod's HTTP port, or says why not. Pure: the result depends only
 * on the pod and the context. The sidecar takes the name of the port the Service targets (the
 * app's port is renamed app-<name>), so a Service with a named targetPort reaches the sidecar
 * with no change; probes that named the old port now give its number, so the kubelet still
 * reaches the app directly. The projected token (audience gatehouse) is mounted only into the
 * sidecar. A pod already carrying the injected marker or a gatehouse container is left as it is.
 */
export function injectPod(pod: PodLike, context: InjectionContext): InjectionResult {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  if (labels[INJECT_KEY] !== 'true') return { kind: 'skipped', reason: 'not_requested' };
  const containers = pod.spec?.containers ?? [];
  const initContainers = pod.spec?.initContainers ?? [];
  if (annotations[INJECTED_ANNOTATION] !== undefined || hasSidecarContainer(pod))
    return { kind: 'skipped', reason: 'already_injected' };

  try {
    const application = labels[APPLICATION_KEY] ?? annotations[APPLICATION_KEY];
    if (application === undefined)
      throw new Refused(
        'application_missing',
        `label or annotation ${APPLICATION_KEY} is required with ${INJECT_KEY}`,
      );
    if (!isObjectName(application))
      throw new Refused(
        'application_invalid',
        `${APPLICATION_KEY}: not an object name (got ${JSON.stringify(application)})`,
      );

    if (pod.spec?.hostNetwork === true)
      throw new Refused(
        'host_network',
        'a hostNetwork pod shares the node\u2019s addresses, so the app\u2019s port would be open on every address of the node, past the sidecar; run the pod without hostNetwork (a hostPort of the taken port goes to the sidecar)',
      );
    const taken = takenPort(pod);
    const listenPort = portNumber(annotations[LISTEN_PORT_ANNOTATION], context.settings.listenPort);
    const used = new Set(containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)));
    for (const port of [listenPort, context.settings.adminPort]) {
      if (used.has(port))
        throw new Refused(
          'port_conflict',
          `the sidecar needs port ${port}, which a container already uses; set ${LISTEN_PORT_ANNOTATION} or the injection ports`,
        );
    }
    for (const name of [TOKEN_VOLUME, STATE_VOLUME])
      if ((pod.spec?.volumes ?? []).some((v) => v.name === name))
        throw new Refused('name_conflict', `the pod already has a volume named ${name}`);

    const warnings: string[] = [];
    const newName = taken.name === undefined ? undefined : renamedPortName(taken.name);
    const names = new Set(
      containers.flatMap((c) => (c.ports ?? []).flatMap((p) => (p.name ? [p.name] : []))),
    );
    if (newName !== undefined && names.has(newName))
      throw new Refused(
        'name_conflict',
        `port ${taken.name} cannot be renamed ${newName}: that name is taken`,
      );
    if (names.has(SIDECAR_ADMIN_PORT_NAME) || (taken.name === undefined && names.has(UNNAMED_PORT_NAME)))
      throw new Refused(
        'name_conflict',
        `a container port is already named ${SIDECAR_ADMIN_PORT_NAME} or ${UNNAMED_PORT_NAME}`,
      );
    if (taken.host !== undefined)
      warnings.push(
        `gatehouse: hostPort ${taken.host.hostPort} of port ${taken.name ?? taken.number} now reaches the sidecar (${listenPort}) instead of the app.`,
      );
    if (taken.name === undefined)
      warnings.push(
        `gatehouse: port ${taken.number} has no name; a Service that targets it by number reaches the app without the sidecar. Target port ${UNNAMED_PORT_NAME} (${listenPort}) instead.`,
      );

    const appContainers = containers.map((c, i) => {
      let next = c;
      if (taken.name !== undefined) next = rewriteNamedPort(next, taken.name, taken.number);
      if (i === taken.container)
        next = {
          ...next,
          ports: (next.ports ?? []).map((p, j) => (j === taken.index ? appPort(p, newName) : p)),
        };
      return next;
    });
    const sidecar = sidecarContainer(context, application, taken, listenPort);
    const volume = {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: STREAM_AUDIENCE,
              expirationSeconds: context.settings.tokenExpirationSeconds,
              path: 'token',
            },
          },
        ],
      },
    };
    const injected: PodLike = {
      ...pod,
      metadata: {
        ...pod.metadata,
        labels: { ...labels, [APPLICATION_KEY]: application },
        annotations: {
          ...annotations,
          [INJECTED_ANNOTATION]: 'true',
          [SAFE_TO_EVICT_LOCAL_VOLUMES]: withListed(annotations[SAFE_TO_EVICT_LOCAL_VOLUMES], STATE_VOLUME),
        },
      },
      spec: {
        ...pod.spec,
        // A projected ServiceAccount token needs a ServiceAccount; the ServiceAccount admission
        // plugin sets "default" before webhooks run, but clusters without it leave it empty.
        serviceAccountName: (pod.spec?.serviceAccountName as string | undefined) || 'default',
        ...pullSecrets(pod, context.settings.imagePullSecrets),
        containers: context.nativeSidecar ? appContainers : [...appContainers, sidecar],
        ...(context.nativeSidecar || initContainers.length > 0
          ? { initContainers: context.nativeSidecar ? [sidecar, ...initContainers] : initContainers }
          : {}),
        volumes: [
          ...(pod.spec?.volumes ?? []),
          volume,
          { name: STATE_VOLUME, emptyDir: { sizeLimit: STATE_SIZE_LIMIT } },
        ],
      },
    };
    return { kind: 'injected', pod: injected, warnings };
  } catch (error) {
    if (error instanceof Refused) return { kind: 'refused', code: error.code, message: error.message };
    throw error;
  }
}
