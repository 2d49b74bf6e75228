import type { KubeObject } from '../../../lib/kube/kube-object.ts';

interface WebhookLike {
  name: string;
  clientConfig?: { caBundle?: string };
}

/**
 * The server-side apply body that sets every webhook's clientConfig.caBundle of a
 * MutatingWebhookConfiguration to the operator's CA bundle; undefined when all already carry it.
 * Only caBundle is applied, so the chart keeps owning every other field.
 */
export function caBundleApply(configuration: KubeObject, caBundlePem: string): KubeObject | undefined {
  const webhooks = (configuration.webhooks as WebhookLike[] | undefined) ?? [];
  const caBundle = Buffer.from(caBundlePem).toString('base64');
  if (webhooks.length === 0 || webhooks.every((w) => w.clientConfig?.caBundle === caBundle)) return undefined;
  return {
    metadata: { name: configuration.metadata.name },
    webhooks: webhooks.map((w) => ({ name: w.name, clientConfig: { caBundle } })),
  };
}
