/** The metadata fields Gatehouse reads from any Kubernetes object. */
export interface ObjectMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetadata;
  [field: string]: unknown;
}

/** A Kubernetes metav1.Time: RFC 3339 in UTC, whole seconds. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** namespace/name, the key of an object in caches and queues. */
export function objectKey(object: { metadata: { name: string; namespace?: string } }): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** Splits a namespace/name key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** A Kubernetes object name: a DNS subdomain (RFC 1123). */
export function isObjectName(value: string): boolean {
  return (
    value.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)
  );
}

/** A namespace name: a DNS label (RFC 1123). */
export function isNamespaceName(value: string): boolean {
  return value.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value);
}

/** namespace/name of a namespaced object. */
export function isObjectKey(value: string): boolean {
  const slash = value.indexOf('/');
  return slash > 0 && isNamespaceName(value.slice(0, slash)) && isObjectName(value.slice(slash + 1));
}
