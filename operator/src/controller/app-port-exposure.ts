/**
 * Whether the application's own port is closed to the cluster. The sidecar takes over the port
 * the Service targets, but the application still listens on its own (`app-http`, 8080) at the
 * pod's address: any pod of the cluster that connects to it there gets past the sidecar, with any
 * identity headers it likes. Only the application verifying the identity JWT, or a NetworkPolicy,
 * stops it. The operator cannot see the first; it reads the second: the NetworkPolicies of the
 * namespace that select the application's pods, as Kubernetes combines them (a pod selected by
 * any policy for ingress admits only what one of their rules admits; the node and the pod itself
 * are always let through, so the sidecar and the kubelet's probes still reach the port).
 */

import { APPLICATION_KEY, type InjectedContainer, portBehindSidecar } from '../../../contract/injection.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';

interface LabelSelectorShape {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: string;
    readonly values?: readonly string[];
  }[];
}

interface NetworkPolicyPortShape {
  readonly protocol?: string;
  readonly port?: number | string;
  readonly endPort?: number;
}

/** What the operator reads of a NetworkPolicy's spec. */
export interface NetworkPolicySpecShape {
  readonly podSelector?: LabelSelectorShape;
  readonly policyTypes?: readonly string[];
  readonly ingress?: readonly {
    readonly from?: readonly unknown[];
    readonly ports?: readonly NetworkPolicyPortShape[];
  }[];
}

/** Where the application's own port stands, judged by the namespace's NetworkPolicies. */
export type AppPortExposure =
  /** No pod of the application runs the sidecar: nothing to judge yet. */
  | { readonly kind: 'no_pods' }
  /** Every injected pod is isolated for ingress and no rule admits the port: the policies that isolate them. */
  | { readonly kind: 'closed'; readonly port: number; readonly policies: readonly string[] }
  /** A pod no NetworkPolicy selects for ingress: every port of it is open to the cluster. */
  | { readonly kind: 'not_isolated'; readonly port: number; readonly pod: string }
  /** A rule of a policy admits the port: from anywhere (no `from`) or from the peers it lists. */
  | {
      readonly kind: 'admitted';
      readonly port: number;
      readonly pod: string;
      readonly policy: string;
      readonly rule: number;
      readonly fromAnywhere: boolean;
    };

/** Whether a label selector picks these labels (`{}` picks every pod; an unknown operator, none). */
export function selectorMatches(
  selector: LabelSelectorShape | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const expression of selector?.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expression.key);
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (!has || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Whether a policy constrains ingress: `policyTypes` lists Ingress, or is absent (Ingress implied). */
function governsIngress(spec: NetworkPolicySpecShape): boolean {
  return spec.policyTypes === undefined || spec.policyTypes.includes('Ingress');
}

/** Whether a rule's port entry admits TCP to this port, known by its number and its names. */
function portAdmits(entry: NetworkPolicyPortShape, port: number, names: readonly string[]): boolean {
  if ((entry.protocol ?? 'TCP') !== 'TCP') return false;
  if (entry.port === undefined) return true;
  if (typeof entry.port === 'string') return names.includes(entry.port);
  return entry.endPort === undefined ? entry.port === port : entry.port <= port && port <= entry.endPort;
}

/**
 * The application's own port as the namespace's NetworkPolicies leave it, over the pods of the
 * application that run the sidecar; the first pod whose port is open is named. `pods` and
 * `policies` are those of the application's namespace.
 */
export function appPortExposure(
  application: string,
  pods: Iterable<KubeObject>,
  policies: Iterable<KubeObject>,
): AppPortExposure {
  const all = [...policies]
    .map((p) => ({ name: p.metadata.name, spec: (p.spec ?? {}) as NetworkPolicySpecShape }))
    .filter((p) => governsIngress(p.spec))
    .sort((a, b) => a.name.localeCompare(b.name));
  const isolating = new Set<string>();
  let port: number | undefined;
  const injected = [...pods]
    .filter((pod) => pod.metadata.labels?.[APPLICATION_KEY] === application)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const pod of injected) {
    const own = portBehindSidecar(
      pod as { spec?: { containers?: InjectedContainer[]; initContainers?: InjectedContainer[] } },
    );
    if (!own) continue;
    port ??= own.number;
    const labels = pod.metadata.labels ?? {};
    const selecting = all.filter((p) => selectorMatches(p.spec.podSelector, labels));
    if (selecting.length === 0) return { kind: 'not_isolated', port: own.number, pod: pod.metadata.name };
    for (const policy of selecting) {
      isolating.add(policy.name);
      const rules = policy.spec.ingress ?? [];
      for (const [rule, { from, ports }] of rules.entries())
        if ((ports ?? []).length === 0 || (ports ?? []).some((e) => portAdmits(e, own.number, own.names)))
          return {
            kind: 'admitted',
            port: own.number,
            pod: pod.metadata.name,
            policy: policy.name,
            rule,
            fromAnywhere: (from ?? []).length === 0,
          };
    }
  }
  if (port === undefined) return { kind: 'no_pods' };
  return { kind: 'closed', port, policies: [...isolating].sort() };
}
