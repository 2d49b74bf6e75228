/** One RBAC rule of the operator's ClusterRole. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * Everything the operator may do, and nothing more: read its CRDs and write their status, keep
 * keys Secrets, read Pods (sidecar → application), review tokens, record Events, hold its Lease.
 * The Helm chart and the tests apply these same rules.
 */
export const OPERATOR_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ['gatehouse.dev'],
    resources: ['accessapplications', 'accesspolicies'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['gatehouse.dev'],
    resources: ['accessapplications/status', 'accesspolicies/status'],
    verbs: ['get', 'patch', 'update'],
  },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** The ClusterRole holding OPERATOR_RULES. */
export function operatorClusterRole(name = 'gatehouse-operator') {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'gatehouse' } },
    rules: OPERATOR_RULES,
  };
}
