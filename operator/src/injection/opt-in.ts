/**
 * The names users write to opt a workload in. On a Deployment they are annotations, which the
 * operator copies to the pod template as labels; on a pod template they can be labels directly.
 */

/** "true" opts a Deployment in (annotation) or a pod in (label, matched by the webhook's objectSelector). */
export const INJECT_KEY = 'gatehouse.dev/inject';
/** The AccessApplication a workload serves (annotation on a Deployment, label or annotation on a pod). */
export { APPLICATION_LABEL as APPLICATION_KEY } from '../kube/kube-object.ts';
/** Pod annotation: which container port the sidecar takes over (its name or number). */
export const PORT_ANNOTATION = 'gatehouse.dev/port';
/** Pod annotation: the port the sidecar listens on (default from the injection settings). */
export const LISTEN_PORT_ANNOTATION = 'gatehouse.dev/listen-port';
/** Pod annotation the webhook sets; a pod carrying it is never injected again. */
export const INJECTED_ANNOTATION = 'gatehouse.dev/injected';
/** Name of the sidecar container. */
export const SIDECAR_CONTAINER = 'gatehouse';
/** Field manager of the operator's pod-template labels on Deployments. */
export const INJECTION_FIELD_MANAGER = 'gatehouse-injection';
