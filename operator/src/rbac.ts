/** One RBAC rule of the operator's roles. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export const OPERATOR_ROLE_NAME = 'gatehouse-operator';
/** The CRDs of Gatehouse, by name. */
export const GATEHOUSE_CRD_NAMES = [
  'accessapplications.gatehouse.dev',
  'accesspolicies.gatehouse.dev',
  'accessrevocations.gatehouse.dev',
] as const;
export const WEBHOOK_CONFIGURATION_NAME = 'gatehouse-sidecar-injector';

/**
 * Everything the operator does across namespaces, and nothing more: watch its CRDs and write their
 * status, delete AccessRevocations once expired, keep keys Secrets, read a Pod when its sidecar connects, review tokens, record Events,
 * label opted-in Deployments, keep its own webhook's caBundle, and read its CRDs. The Helm chart's ClusterRole is
 * tested to be exactly this, and an audited e2e run to use every verb of it.
 */
export const OPERATOR_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ['gatehouse.dev'],
    resources: ['accessapplications', 'accesspolicies'],
    verbs: ['list', 'watch'],
  },
  {
    apiGroups: ['gatehouse.dev'],
    resources: ['accessapplications/status', 'accesspolicies/status', 'accessrevocations/status'],
    verbs: ['patch'],
  },
  {
    apiGroups: ['gatehouse.dev'],
    resources: ['accessrevocations'],
    verbs: ['list', 'watch', 'create', 'delete'],
  },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  // Which Services target an application's own port, past its sidecar.
  { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
  // And which endpoints written by hand (a Service without a selector) are its pods' own port.
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
  // Whether NetworkPolicies close an application's own port to the cluster.
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list', 'watch', 'patch'] },
  // Read by name, to compare the installed CRDs with this version's: never listed, never written.
  {
    apiGroups: ['apiextensions.k8s.io'],
    resources: ['customresourcedefinitions'],
    verbs: ['get'],
    resourceNames: [...GATEHOUSE_CRD_NAMES],
  },
  {
    apiGroups: ['admissionregistration.k8s.io'],
    resources: ['mutatingwebhookconfigurations'],
    verbs: ['list', 'watch', 'patch'],
    resourceNames: [WEBHOOK_CONFIGURATION_NAME],
  },
];

/** What the operator does in its own namespace only: hold its Lease. */
export const OPERATOR_NAMESPACE_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** The operator's RBAC objects for a subject (ClusterRole, Role in its namespace, and their bindings); tests apply these. */
export function operatorRbac(namespace: string, subject: { kind: 'User' | 'ServiceAccount'; name: string }) {
  const labels = { 'app.kubernetes.io/name': 'gatehouse' };
  const subjects = [
    subject.kind === 'User'
      ? { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: subject.name }
      : { kind: 'ServiceAccount', name: subject.name, namespace },
  ];
  const roleRef = (kind: string) => ({
    apiGroup: 'rbac.authorization.k8s.io',
    kind,
    name: OPERATOR_ROLE_NAME,
  });
  const meta = { name: OPERATOR_ROLE_NAME, labels };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta,
      rules: OPERATOR_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta,
      roleRef: roleRef('ClusterRole'),
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { ...meta, namespace },
      rules: OPERATOR_NAMESPACE_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { ...meta, namespace },
      roleRef: roleRef('Role'),
      subjects,
    },
  ];
}
