import type { KubeConnection } from '../../../lib/kube/connection.ts';
import { KubeClient } from '../../../lib/kube/kube-client.ts';
import { type KubeObject, objectKey } from '../../../lib/kube/kube-object.ts';
import {
  DEPLOYMENTS,
  MUTATING_WEBHOOK_CONFIGURATIONS,
  type ResourceType,
} from '../../../lib/kube/resource-types.ts';
import type { EventRecorder } from '../controller/event-recorder.ts';
import type { Informer, InformerOptions } from '../controller/informer.ts';
import type { OperatorLog } from '../operator-log.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { createAdmissionWebhook } from './admission-webhook.ts';
import { INJECTION_FIELD_MANAGER, optInApplyBody, planDeploymentOptIn } from './deployment-opt-in.ts';
import type { InjectionContext } from './inject-pod.ts';
import type { InjectionSettings } from './injection-settings.ts';
import { caBundleApply } from './webhook-ca-bundle.ts';

/** The first Kubernetes minor with native sidecars (init containers with restartPolicy Always) on by default. */
export const NATIVE_SIDECAR_MINOR = 29;

export interface InjectionControllerOptions {
  readonly client: KubeClient;
  readonly connection: KubeConnection;
  readonly informer: (
    resource: ResourceType,
    onChange: InformerOptions['onChange'],
    extra?: Partial<InformerOptions>,
  ) => Informer;
  /** Adds a key (deploy:<ns>/<name> or webhook:<name>) to the operator's work queue. */
  readonly enqueue: (key: string) => void;
  readonly isLeader: () => boolean;
  readonly metrics: OperatorMetrics;
  readonly events: EventRecorder;
  readonly log: OperatorLog;
  readonly settings: InjectionSettings;
  /** The MutatingWebhookConfiguration whose caBundle the operator keeps; none when TLS is not self-managed. */
  readonly webhookConfiguration?: string;
  /** The CA bundle sidecars and the API server should trust; undefined until known. */
  readonly caBundle: () => string | undefined;
}

/**
 * Opt-in by annotation and sidecar injection: copies a Deployment's opt-in annotations to its pod
 * template as labels (under its own field manager), keeps the webhook's caBundle equal to the
 * operator's CA bundle, and answers the webhook.
 */
export function createInjectionController(options: InjectionControllerOptions) {
  const labeller = new KubeClient(options.connection, { fieldManager: INJECTION_FIELD_MANAGER });
  const warned = new Set<string>();
  let nativeSidecar = options.settings.nativeSidecar === 'always';

  const deployments = options.informer(DEPLOYMENTS, (key) => options.enqueue(`deploy:${key}`));
  const name = options.webhookConfiguration;
  const webhooks = name
    ? options.informer(MUTATING_WEBHOOK_CONFIGURATIONS, () => options.enqueue(`webhook:${name}`), {
        fieldSelector: `metadata.name=${name}`,
      })
    : undefined;

  async function reconcileDeployment(key: string): Promise<string> {
    const deployment = deployments.get(key);
    if (!deployment) return 'skipped';
    const action = planDeploymentOptIn(deployment);
    if (action.kind === 'none') return 'unchanged';
    if (!options.isLeader()) return 'skipped';
    if (action.kind === 'invalid') {
      const marker = `${key}@${deployment.metadata.generation ?? 0}`;
      if (!warned.has(marker)) {
        warned.add(marker);
        options.events.record(deployment, 'Warning', 'InvalidOptIn', action.message);
        options.log('deployment_opt_in_invalid', { deployment: key, message: action.message });
      }
      return 'invalid';
    }
    await labeller.apply(DEPLOYMENTS, optInApplyBody(deployment, action));
    options.metrics.writes.inc({ what: 'deployment_labels' });
    options.log(action.kind === 'label' ? 'deployment_labelled' : 'deployment_unlabelled', {
      deployment: key,
      ...(action.kind === 'label' ? { labels: action.labels } : {}),
    });
    return action.kind === 'label' ? 'labelled' : 'unlabelled';
  }

  async function reconcileWebhook(): Promise<string> {
    const configuration: KubeObject | undefined = name ? webhooks?.get(`/${name}`) : undefined;
    const bundle = options.caBundle();
    if (!name || !configuration || !bundle || !options.isLeader()) return 'skipped';
    const body = caBundleApply(configuration, bundle);
    if (!body) return 'unchanged';
    await options.client.apply(MUTATING_WEBHOOK_CONFIGURATIONS, body);
    options.metrics.writes.inc({ what: 'ca_bundle' });
    options.log('webhook_ca_bundle_written', { webhookConfiguration: name });
    return 'written';
  }

  return {
    synced: Promise.all([deployments.synced, webhooks?.synced]).then(() => undefined),
    /** Labels or unlabels one Deployment (namespace/name) as its annotations ask. */
    reconcileDeployment,
    /** Keeps the webhook configuration's caBundle equal to the operator's bundle. */
    reconcileWebhook,
    /** Queues everything again (on becoming leader). */
    resyncAll(): void {
      for (const d of deployments.values()) options.enqueue(`deploy:${objectKey(d)}`);
      if (name) options.enqueue(`webhook:${name}`);
    },
    caBundleChanged(): void {
      if (name) options.enqueue(`webhook:${name}`);
    },
    /** Decides native sidecars from the API server's version when the settings say auto. */
    async detectNativeSidecar(): Promise<boolean> {
      if (options.settings.nativeSidecar !== 'auto') return nativeSidecar;
      const version = await options.client.version();
      nativeSidecar = Number.parseInt(version.minor, 10) >= NATIVE_SIDECAR_MINOR || Number(version.major) > 1;
      return nativeSidecar;
    },
    admission: createAdmissionWebhook({
      context: (): InjectionContext | undefined => {
        const caBundle = options.caBundle();
        return caBundle ? { settings: options.settings, caBundle, nativeSidecar } : undefined;
      },
      metrics: options.metrics,
      log: options.log,
    }),
    stop(): void {
      deployments.stop();
      webhooks?.stop();
    },
  };
}

export type InjectionController = ReturnType<typeof createInjectionController>;
