import { APPLICATION_KEY, INJECT_KEY } from '../../../contract/injection.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { isObjectName } from '../../../lib/kube/kube-object.ts';

/** What the operator should do to a Deployment's pod template. */
/** Field manager of the operator's pod-template labels on Deployments. */
export const INJECTION_FIELD_MANAGER = 'gatehouse-injection';

export type OptInAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'label'; readonly labels: Readonly<Record<string, string>> }
  | { readonly kind: 'unlabel' }
  | { readonly kind: 'invalid'; readonly message: string };

interface DeploymentShape {
  spec?: { template?: { metadata?: { labels?: Record<string, string> } } };
}

/** True when the injection field manager owns fields of this object. */
function ownsFields(deployment: KubeObject): boolean {
  const managed = (deployment.metadata as { managedFields?: { manager?: string }[] }).managedFields ?? [];
  return managed.some((m) => m.manager === INJECTION_FIELD_MANAGER);
}

/**
 * Pure: from a Deployment's annotations, the pod-template labels the operator should hold. Opted
 * in (gatehouse.dev/inject: "true" and an application name) → both labels, unless already there;
 * opted out while the operator still owns labels → release them, which removes them (a label the
 * user also set themselves stays). Either change rolls the pods.
 */
export function planDeploymentOptIn(deployment: KubeObject): OptInAction {
  const annotations = deployment.metadata.annotations ?? {};
  const labels = (deployment as DeploymentShape).spec?.template?.metadata?.labels ?? {};
  const optedIn = annotations[INJECT_KEY] === 'true';
  const application = annotations[APPLICATION_KEY];
  if (optedIn && application !== undefined && isObjectName(application)) {
    const wanted = { [INJECT_KEY]: 'true', [APPLICATION_KEY]: application };
    const present = Object.entries(wanted).every(([k, v]) => labels[k] === v);
    return present ? { kind: 'none' } : { kind: 'label', labels: wanted };
  }
  if (ownsFields(deployment)) return { kind: 'unlabel' };
  if (optedIn)
    return {
      kind: 'invalid',
      message:
        application === undefined
          ? `annotation ${APPLICATION_KEY} is required with ${INJECT_KEY}`
          : `annotation ${APPLICATION_KEY}: not an object name (got ${JSON.stringify(application)})`,
    };
  return { kind: 'none' };
}

/** The server-side apply body for an action: the labels, or nothing at all (which releases them). */
export function optInApplyBody(deployment: KubeObject, action: OptInAction): KubeObject {
  const metadata = { name: deployment.metadata.name, namespace: deployment.metadata.namespace ?? '' };
  if (action.kind !== 'label') return { metadata };
  return { metadata, spec: { template: { metadata: { labels: { ...action.labels } } } } };
}
