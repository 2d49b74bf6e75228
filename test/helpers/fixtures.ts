import type { AccessApplication } from '../../contract/api/access-application.ts';
import type { AccessPolicy } from '../../contract/api/access-policy.ts';
import { type Located, renderSidecarConfig } from '../../contract/config/render.ts';
import { assertionAlgorithm } from '../../contract/config/render-auth.ts';
import type { Revocation, SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { processKeys } from '../../sidecar/src/auth/process-keys.ts';

type Spec = AccessApplication['spec'];

/** The keys every test application uses (generated once per test process). */
export const TEST_KEYS = processKeys();
type PolicySpec = AccessPolicy['spec'];

/** A revocation of a user's sessions, as a sidecar's config carries it. */
export function testRevocation(
  name: string,
  user = 'ada@example.com',
  reason: string | null = null,
): Revocation {
  return { name, user, subject: null, provider: null, before: 1_790_000_000, reason };
}

/** The policy data-path tests run under: every request passes without identity (and is logged). */
export const OPEN_POLICY: PolicySpec = { decision: 'bypass', include: [{ everyone: true }] };

/** An AccessPolicy object with the given spec. */
export function testPolicy(name: string, spec: PolicySpec): AccessPolicy {
  return { apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name }, spec };
}

/** The one default application every test starts from; tests override only what they exercise. */
export function testApplication(spec: Partial<Spec> = {}, name = 'test-app'): AccessApplication {
  return {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name },
    spec: {
      hosts: ['localhost', '127.0.0.1', 'app.test'],
      upstream: { url: 'http://127.0.0.1:9' },
      policies: [{ name: 'open' }],
      ...spec,
    },
  };
}

/**
 * Renders the default application (with overrides) and fails the test on any render error. The
 * `open` policy is always available; `policies` adds more by name. With a namespace, the
 * application is rendered as the operator renders one of a cluster.
 */
export function testConfig(
  spec: Partial<Spec> = {},
  policies: Record<string, PolicySpec> = {},
  secrets: Record<string, Record<string, string>> = {},
  namespace?: string,
): SidecarConfig {
  const available = new Map<string, Located<AccessPolicy>>();
  for (const [name, policy] of Object.entries({ open: OPEN_POLICY, ...policies })) {
    available.set(name, { value: testPolicy(name, policy) });
  }
  const plain = testApplication(spec);
  const application = namespace ? { ...plain, metadata: { ...plain.metadata, namespace } } : plain;
  const algorithm = assertionAlgorithm(application.spec.authentication);
  const result = renderSidecarConfig({
    application,
    policies: available,
    secrets: new Map(Object.entries(secrets)),
    keys: TEST_KEYS(algorithm),
  });
  if (!result.ok) throw new Error(`fixture does not render: ${JSON.stringify(result.errors)}`);
  return result.config;
}
