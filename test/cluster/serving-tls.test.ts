import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MUTATING_WEBHOOK_CONFIGURATIONS, PODS, SECRETS } from '../../lib/kube/resource-types.ts';
import { secretStrings } from '../../lib/kube/secret-data.ts';
import { parseInjectionSettings } from '../../operator/src/injection/injection-settings.ts';
import type { PodLike } from '../../operator/src/injection/pod-shape.ts';
import { WEBHOOK_CONFIGURATION_NAME } from '../../operator/src/rbac.ts';
import { splitPemBundle } from '../../operator/src/tls/certificates.ts';
import {
  eventually,
  OPERATOR_NAMESPACE,
  type OperatorCluster,
  startOperatorCluster,
} from '../helpers/operator-cluster.ts';

/**
 * The self-managed CA rotated through a real API server, on a compressed clock: certificates of
 * 4 s renewed 2 s before expiry, a CA of 40 s rotated with 8 s left. Pods are created all along;
 * the API server must verify the webhook through every renewal, the CA rotation, the switch of
 * signer and the old CA leaving the bundle.
 */
const NS = 'rotation';
const SECRET = 'gatehouse-operator-tls';
let env: OperatorCluster;

const secretData = async (): Promise<Record<string, string>> => {
  const secret = await env.admin.get(SECRETS, OPERATOR_NAMESPACE, SECRET);
  return secret ? secretStrings(secret) : {};
};

beforeAll(async () => {
  env = await startOperatorCluster({
    namespaces: [NS],
    operator: {
      tls: {
        managed: {
          secretName: SECRET,
          settings: {
            hosts: ['127.0.0.1'],
            caValidityMs: 40_000,
            certValidityMs: 4_000,
            certRenewBeforeMs: 2_000,
          },
        },
      },
      injection: {
        settings: parseInjectionSettings(
          { image: 'gatehouse:test', operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc' },
          'test',
        ),
        webhookConfiguration: WEBHOOK_CONFIGURATION_NAME,
      },
    },
  });
  await env.admin.create(MUTATING_WEBHOOK_CONFIGURATIONS, undefined, {
    metadata: { name: WEBHOOK_CONFIGURATION_NAME },
    webhooks: [
      {
        name: 'inject.gatehouse.dev',
        admissionReviewVersions: ['v1'],
        clientConfig: { url: `https://127.0.0.1:${env.ports.deliveryPort}/v1/inject` },
        rules: [
          {
            operations: ['CREATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        objectSelector: { matchLabels: { 'gatehouse.dev/inject': 'true' } },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        timeoutSeconds: 5,
      },
    ],
  });
  await eventually(
    async () => {
      const webhook = await env.admin.get(
        MUTATING_WEBHOOK_CONFIGURATIONS,
        undefined,
        WEBHOOK_CONFIGURATION_NAME,
      );
      return (webhook?.webhooks as { clientConfig: { caBundle?: string } }[] | undefined)?.[0]?.clientConfig
        .caBundle;
    },
    10_000,
    'caBundle on the webhook',
  );
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

describe('self-managed serving TLS through a CA rotation', () => {
  it('keeps the webhook verifiable while certificates renew and the CA rotates', async () => {
    const bundles = new Set<string>();
    const signers: string[] = [];
    const sizes: number[] = [];
    let injected = 0;
    const deadline = Date.now() + 50_000;
    let sawRotation = false;
    let sawDrop = false;
    while (Date.now() < deadline && !(sawRotation && sawDrop)) {
      const pod = await env.admin.create<PodLike>(PODS, NS, {
        metadata: {
          generateName: 'app-',
          namespace: NS,
          labels: { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'app' },
        },
        spec: {
          containers: [{ name: 'web', image: 'web:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      });
      expect(pod.spec?.initContainers?.[0]?.name).toBe('gatehouse');
      injected++;

      const data = await secretData();
      const bundle = data['ca-bundle.crt'] ?? '';
      const size = splitPemBundle(bundle).length;
      if (sizes.at(-1) !== size) sizes.push(size);
      bundles.add(bundle);
      const cert = new X509Certificate(data['tls.crt'] ?? '');
      const issuer = splitPemBundle(bundle)
        .map((p) => new X509Certificate(p))
        .find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
      expect(issuer).toBeDefined(); // the served certificate is always signed by a CA in the bundle
      const signer = issuer?.fingerprint256 ?? '';
      if (signers.at(-1) !== signer) signers.push(signer);
      if (size === 2) sawRotation = true;
      if (sawRotation && size === 1) sawDrop = true;
      await new Promise((r) => setTimeout(r, 500));
    }
    // One CA, then both during the rotation, then the new one alone.
    expect(sizes).toEqual([1, 2, 1]);
    // The old CA signed until it neared its end, then the new one: one switch.
    expect(signers).toHaveLength(2);
    const webhook = await env.admin.get(
      MUTATING_WEBHOOK_CONFIGURATIONS,
      undefined,
      WEBHOOK_CONFIGURATION_NAME,
    );
    const caBundle = (webhook?.webhooks as { clientConfig: { caBundle: string } }[] | undefined)?.[0]
      ?.clientConfig.caBundle;
    expect(Buffer.from(caBundle ?? '', 'base64').toString()).toBe((await secretData())['ca-bundle.crt']);
    expect(injected).toBeGreaterThan(40);
    expect(bundles.size).toBeGreaterThanOrEqual(3);
  }, 70_000);
});
