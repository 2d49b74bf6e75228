import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_APPLICATIONS } from '../../contract/api/resource-types.ts';
import {
  customResourceDefinitions,
  SCHEMA_DIGEST_ANNOTATION,
} from '../../contract/crds/custom-resource-definitions.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { CRD_HINT, expectedCrds, inspectCrds } from '../../operator/src/controller/installed-crds.ts';
import { GATEHOUSE_CRD_NAMES } from '../../operator/src/rbac.ts';
import { operatorLineProblems } from '../helpers/log-line-check.ts';
import { eventually, type OperatorCluster, startOperatorCluster } from '../helpers/operator-cluster.ts';

// helm upgrade never updates a chart's CRDs. An operator of a newer version in front of older
// CRDs is silent today, while the API server drops every field the older schema lacks from each
// object written: a setting of the new version quietly does nothing. The operator compares the
// installed CRDs with its own, and says so.

const NS = 'crd-check';
const APP_CRD = 'accessapplications.gatehouse.dev';
const REVOCATION_CRD = 'accessrevocations.gatehouse.dev';
let env: OperatorCluster;
const lines: Record<string, unknown>[] = [];

/** This version's AccessApplication CRD as a release before it had it: without mutual TLS to the application, and without the digest. */
function olderApplicationCrd(): object {
  const crd = structuredClone(customResourceDefinitions().accessApplication) as {
    metadata: { annotations?: Record<string, string> };
    spec: { versions: { schema: { openAPIV3Schema: unknown } }[] };
  };
  delete crd.metadata.annotations;
  const schema = crd.spec.versions[0]?.schema.openAPIV3Schema as {
    properties: {
      spec: { properties: { upstream: { properties: { tls: { properties: Record<string, unknown> } } } } };
    };
  };
  const tls = schema.properties.spec.properties.upstream.properties.tls.properties;
  expect(tls.clientCertificateSecretRef).toBeDefined();
  delete tls.clientCertificateSecretRef;
  return crd;
}

async function matchedSeries(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${env.ports.adminPort}/metrics`)).text();
  const found: Record<string, number> = {};
  for (const m of text.matchAll(/^gatehouse_operator_crd_matched\{crd="([^"]+)"\} (\d+)$/gm))
    found[m[1] as string] = Number(m[2]);
  return found;
}

beforeAll(async () => {
  env = await startOperatorCluster({
    namespaces: [NS],
    operator: {
      crdCheckIntervalMs: 200,
      log: (type, fields) => {
        lines.push(JSON.parse(JSON.stringify({ time: new Date().toISOString(), type, ...fields })));
      },
    },
  });
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

describe('the installed CRDs against the operator\u2019s own', () => {
  it('as installed from crds/: every one matched, nothing logged; the digests are those the operator may read', async () => {
    expect([...expectedCrds().keys()].sort()).toEqual([...GATEHOUSE_CRD_NAMES].sort());
    await eventually(async () => Object.keys(await matchedSeries()).length === 3, 5_000, 'three series');
    expect(await matchedSeries()).toEqual(Object.fromEntries(GATEHOUSE_CRD_NAMES.map((name) => [name, 1])));
    expect(lines.filter((l) => String(l.type).startsWith('crd_'))).toEqual([]);
  });

  it('an older AccessApplication CRD: the API server drops the new field, and the operator says which CRD and what to do', async () => {
    await env.cluster.kubectl(
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      JSON.stringify(olderApplicationCrd()),
    );
    // What the older schema does to an object of this version: the setting is gone, without an error.
    await eventually(
      async () => {
        const name = `wiki-${Date.now()}`;
        const stored = await env.admin.create(ACCESS_APPLICATIONS, NS, {
          metadata: { name, namespace: NS },
          spec: {
            hosts: ['wiki.example.com'],
            upstream: {
              url: 'https://wiki.internal:8443',
              tls: { clientCertificateSecretRef: { name: 'wiki-client' } },
            },
          },
        });
        await env.admin.delete(ACCESS_APPLICATIONS, NS, name);
        const tls = (stored.spec as { upstream: { tls?: Record<string, unknown> } }).upstream.tls;
        return tls?.clientCertificateSecretRef === undefined || undefined;
      },
      10_000,
      'the field dropped by the older schema',
    );
    const mismatch = await eventually(
      async () => lines.find((l) => l.type === 'crd_mismatch' && l.crd === APP_CRD),
      5_000,
      'crd_mismatch',
    );
    expect(mismatch).toMatchObject({
      state: 'other_version',
      installed: null,
      expected: expectedCrds().get(APP_CRD),
      hint: CRD_HINT,
    });
    expect(operatorLineProblems(mismatch)).toEqual([]);
    expect(await matchedSeries()).toMatchObject({ [APP_CRD]: 0, [REVOCATION_CRD]: 1 });
    // Said once, not at every check.
    await new Promise((r) => setTimeout(r, 600));
    expect(lines.filter((l) => l.type === 'crd_mismatch')).toHaveLength(1);
  });

  it('this version\u2019s CRD applied again: crd_matched, and the field is kept', async () => {
    await env.cluster.kubectl(
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      JSON.stringify(customResourceDefinitions().accessApplication),
    );
    const matched = await eventually(
      async () => lines.find((l) => l.type === 'crd_matched' && l.crd === APP_CRD),
      10_000,
      'crd_matched',
    );
    expect(matched.digest).toBe(expectedCrds().get(APP_CRD));
    expect(await matchedSeries()).toMatchObject({ [APP_CRD]: 1 });
    await eventually(
      async () => {
        const stored = await env.admin.create(ACCESS_APPLICATIONS, NS, {
          metadata: { name: 'wiki', namespace: NS },
          spec: {
            hosts: ['wiki.example.com'],
            upstream: {
              url: 'https://wiki.internal:8443',
              tls: { clientCertificateSecretRef: { name: 'c' } },
            },
          },
        });
        await env.admin.delete(ACCESS_APPLICATIONS, NS, 'wiki');
        const tls = (stored.spec as { upstream: { tls?: Record<string, unknown> } }).upstream.tls;
        return tls?.clientCertificateSecretRef !== undefined || undefined;
      },
      10_000,
      'the field kept',
    );
  });

  it('a CRD someone else\u2019s digest, one missing, and none readable without the right', async () => {
    const admin = new KubeClient(env.cluster.connection(), { fieldManager: 'test-user' });
    const other = new Map([
      [APP_CRD, 'sha256:0000'],
      ['accessthings.gatehouse.dev', 'sha256:1111'],
    ]);
    expect(await inspectCrds(admin, other)).toEqual([
      {
        crd: APP_CRD,
        state: 'other_version',
        installed:
          customResourceDefinitions().accessApplication.metadata.annotations[SCHEMA_DIGEST_ANNOTATION],
        expected: 'sha256:0000',
      },
      { crd: 'accessthings.gatehouse.dev', state: 'missing', installed: null, expected: 'sha256:1111' },
    ]);
    // The operator's user may read the three by name, and nothing else.
    const operator = new KubeClient(env.cluster.connection(env.cluster.operatorUser), {
      fieldManager: 'test',
    });
    expect((await inspectCrds(operator, other))[1]).toMatchObject({ state: 'unreadable' });
  });
});
