import { describe, expect, it } from 'vitest';
import { SCHEMA_DIGEST_ANNOTATION } from '../../contract/crds/custom-resource-definitions.ts';
import type { KubeClient } from '../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../lib/kube/kube-errors.ts';
import { expectedCrds, startCrdCheck } from '../../operator/src/controller/installed-crds.ts';
import type { OperatorLog } from '../../operator/src/operator-log.ts';

/** A client whose answers the test sets: the CRDs as installed, or an API server that does not answer. */
function apiServer() {
  const state = { down: false, digest: (name: string) => expectedCrds().get(name) };
  const client = {
    async get(_resource: unknown, _namespace: unknown, name: string) {
      if (state.down) throw new KubeApiError('unavailable', 503, 'get CustomResourceDefinition: 503');
      return { metadata: { name, annotations: { [SCHEMA_DIGEST_ANNOTATION]: state.digest(name) } } };
    },
  } as unknown as KubeClient;
  return { state, client };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('the CRD check', () => {
  it('says once that the API server does not answer, and again only after a check that worked', async () => {
    const { state, client } = apiServer();
    const lines: string[] = [];
    const log = ((type: string) => lines.push(type)) as unknown as OperatorLog;
    state.down = true;
    const findings: string[] = [];
    const check = startCrdCheck({ client, log, onFinding: (f) => findings.push(f.state), intervalMs: 10 });
    try {
      await new Promise((r) => setTimeout(r, 120));
      expect(lines).toEqual(['crd_check_failed']);
      state.down = false;
      await until(() => findings.length >= 3);
      state.down = true;
      await until(() => lines.length >= 2);
      await new Promise((r) => setTimeout(r, 60));
      expect(lines).toEqual(['crd_check_failed', 'crd_check_failed']);
      expect(new Set(findings)).toEqual(new Set(['matched']));
    } finally {
      check.stop();
    }
  });

  it('says a CRD of another version once, and when it is matched again', async () => {
    const { state, client } = apiServer();
    const lines: { type: string; crd?: unknown }[] = [];
    const log = ((type: string, fields: { crd?: unknown }) =>
      lines.push({ type, crd: fields.crd })) as unknown as OperatorLog;
    state.digest = (name) => (name.startsWith('accesspolicies') ? 'sha256:older' : expectedCrds().get(name));
    const check = startCrdCheck({ client, log, onFinding: () => undefined, intervalMs: 10 });
    try {
      await new Promise((r) => setTimeout(r, 80));
      expect(lines).toEqual([{ type: 'crd_mismatch', crd: 'accesspolicies.gatehouse.dev' }]);
      state.digest = (name) => expectedCrds().get(name);
      await until(() => lines.length >= 2);
      expect(lines[1]).toEqual({ type: 'crd_matched', crd: 'accesspolicies.gatehouse.dev' });
    } finally {
      check.stop();
    }
  });
});
