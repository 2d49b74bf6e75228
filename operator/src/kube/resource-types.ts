/** A Kubernetes resource type: enough to build its REST paths. */
export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const type = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced = true,
): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced,
});

export const ACCESS_APPLICATIONS = type(
  'gatehouse.dev',
  'v1alpha1',
  'AccessApplication',
  'accessapplications',
);
export const ACCESS_POLICIES = type('gatehouse.dev', 'v1alpha1', 'AccessPolicy', 'accesspolicies');
export const ACCESS_REVOCATIONS = type(
  'gatehouse.dev',
  'v1alpha1',
  'AccessRevocation',
  'accessrevocations',
  false,
);
export const SECRETS = type('', 'v1', 'Secret', 'secrets');
export const PODS = type('', 'v1', 'Pod', 'pods');
export const EVENTS = type('', 'v1', 'Event', 'events');
export const SERVICE_ACCOUNTS = type('', 'v1', 'ServiceAccount', 'serviceaccounts');
export const LEASES = type('coordination.k8s.io', 'v1', 'Lease', 'leases');
export const TOKEN_REVIEWS = type('authentication.k8s.io', 'v1', 'TokenReview', 'tokenreviews', false);
export const DEPLOYMENTS = type('apps', 'v1', 'Deployment', 'deployments');
export const MUTATING_WEBHOOK_CONFIGURATIONS = type(
  'admissionregistration.k8s.io',
  'v1',
  'MutatingWebhookConfiguration',
  'mutatingwebhookconfigurations',
  false,
);

/** The apiVersion field of objects of this type. */
export function apiVersionOf(resource: ResourceType): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

/** The collection path, e.g. /apis/gatehouse.dev/v1alpha1/namespaces/ns/accessapplications; all namespaces when namespace is undefined. */
export function collectionPath(resource: ResourceType, namespace?: string): string {
  const root = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const scope =
    resource.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${scope}/${resource.plural}`;
}

/** The path of one object, optionally of one of its subresources (status). */
export function objectPath(
  resource: ResourceType,
  namespace: string | undefined,
  name: string,
  subresource?: string,
): string {
  return `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}
