/** A Kubernetes resource type: enough to build its REST paths. */
export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** A resource type from its group, version, kind and plural; namespaced unless told. */
export const resourceType = (
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

export const SECRETS = resourceType('', 'v1', 'Secret', 'secrets');
export const PODS = resourceType('', 'v1', 'Pod', 'pods');
export const SERVICES = resourceType('', 'v1', 'Service', 'services');
export const ENDPOINT_SLICES = resourceType('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices');
export const NETWORK_POLICIES = resourceType('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies');
export const EVENTS = resourceType('', 'v1', 'Event', 'events');
export const SERVICE_ACCOUNTS = resourceType('', 'v1', 'ServiceAccount', 'serviceaccounts');
export const LEASES = resourceType('coordination.k8s.io', 'v1', 'Lease', 'leases');
export const TOKEN_REVIEWS = resourceType(
  'authentication.k8s.io',
  'v1',
  'TokenReview',
  'tokenreviews',
  false,
);
export const DEPLOYMENTS = resourceType('apps', 'v1', 'Deployment', 'deployments');
export const MUTATING_WEBHOOK_CONFIGURATIONS = resourceType(
  'admissionregistration.k8s.io',
  'v1',
  'MutatingWebhookConfiguration',
  'mutatingwebhookconfigurations',
  false,
);

export const CUSTOM_RESOURCE_DEFINITIONS = resourceType(
  'apiextensions.k8s.io',
  'v1',
  'CustomResourceDefinition',
  'customresourcedefinitions',
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
