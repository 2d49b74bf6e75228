import type { AccessApplication } from '../../sidecar/src/api/access-application.ts';
import { renderSidecarConfig } from '../../sidecar/src/config/render.ts';
import type { SidecarConfig } from '../../sidecar/src/config/sidecar-config.ts';

type Spec = AccessApplication['spec'];

/** The one default application every test starts from; tests override only what they exercise. */
export function testApplication(spec: Partial<Spec> = {}, name = 'test-app'): AccessApplication {
  return {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name },
    spec: {
      hosts: ['localhost', '127.0.0.1', 'app.test'],
      upstream: { url: 'http://127.0.0.1:9' },
      ...spec,
    },
  };
}

/** Renders the default application (with overrides) and fails the test on any render error. */
export function testConfig(spec: Partial<Spec> = {}): SidecarConfig {
  const result = renderSidecarConfig({ application: testApplication(spec) });
  if (!result.ok) throw new Error(`fixture does not render: ${JSON.stringify(result.errors)}`);
  return result.config;
}
