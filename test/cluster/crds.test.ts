import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ControlPlane, startControlPlane } from '../helpers/control-plane.ts';
import { applyCrds } from '../helpers/operator-cluster.ts';

let cluster: ControlPlane;

const application = (name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name, namespace: 'default' },
    spec: { hosts: ['app.example.com'], upstream: { url: 'http://127.0.0.1:8080' }, ...spec },
  });

const policy = (name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessPolicy',
    metadata: { name, namespace: 'default' },
    spec,
  });

const revocation = (name: string, spec: Record<string, unknown>) =>
  stringify({ apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessRevocation', metadata: { name }, spec });

/** kubectl explain, retried while the API server is still publishing the new types' OpenAPI. */
async function explain(path: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await cluster.kubectl(['explain', path])).replace(/\s+/g, ' ');
    } catch (error) {
      if (attempt >= 50 || !/couldn't find resource/.test((error as Error).message)) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function refusal(manifest: string): Promise<string> {
  try {
    await cluster.kubectl(['apply', '--server-side', '-f', '-'], manifest);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`the API server accepted:\n${manifest}`);
}

beforeAll(async () => {
  cluster = await startControlPlane();
  await applyCrds(cluster);
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('CRDs on a real API server', () => {
  it('accept valid objects and show the printer columns', async () => {
    await cluster.kubectl(
      ['apply', '--server-side', '-f', '-'],
      policy('staff', { decision: 'allow', include: [{ emailDomains: ['example.com'] }] }),
    );
    await cluster.kubectl(
      ['apply', '--server-side', '-f', '-'],
      policy('admins-recently', {
        decision: 'allow',
        include: [{ groups: ['admins'] }],
        require: [{ signedInWithin: '15m' }, { claim: { name: 'amr', contains: 'mfa' } }],
      }),
    );
    await cluster.kubectl(
      ['apply', '--server-side', '-f', '-'],
      application('grafana', {
        policies: [{ name: 'staff' }],
        trustedProxies: ['10.0.0.0/8', '192.168.1.1'],
      }),
    );
    const apps = await cluster.kubectl(['get', 'accessapplications']);
    expect(apps.split('\n')[0]).toMatch(/^NAME\s+READY\s+PROTECTED\s+HOSTS\s+AGE/);
    expect(apps).toContain('grafana');
    expect(apps).toContain('["app.example.com"]');
    const policies = await cluster.kubectl(['get', 'gpol', '-o', 'wide']);
    expect(policies.split('\n')[0]).toMatch(/^NAME\s+DECISION\s+MODE\s+READY\s+REASON\s+AGE/);
    expect(await cluster.kubectl(['get', 'gatehouse'])).toContain('accessapplication.gatehouse.dev/grafana');
  });

  it('takes the NetworkPolicy docs/injection.md gives for closing the app\u2019s own port (port ranges with endPort)', async () => {
    const docs = readFileSync(new URL('../../docs/injection.md', import.meta.url), 'utf8');
    const block = /```yaml\n((?:(?!```)[\s\S])*kind: NetworkPolicy(?:(?!```)[\s\S])*)```/.exec(docs)?.[1];
    expect(block).toBeDefined();
    const manifest = (block as string)
      .split('\n')
      .map((line) => line.replace(/^ {4}/, ''))
      .join('\n')
      .replace('namespace: corp', 'namespace: default');
    const applied = await cluster.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], manifest);
    const ports = (JSON.parse(applied) as { spec: { ingress: { ports: unknown[] }[] } }).spec.ingress[0]
      ?.ports;
    expect(ports).toEqual([
      { protocol: 'TCP', port: 1, endPort: 8079 },
      { protocol: 'TCP', port: 8081, endPort: 65535 },
    ]);
  });

  it('takes the egress NetworkPolicy docs/troubleshooting.md gives for the sidecar', async () => {
    const docs = readFileSync(new URL('../../docs/troubleshooting.md', import.meta.url), 'utf8');
    const block = /```yaml\n((?:(?!```)[\s\S])*kind: NetworkPolicy(?:(?!```)[\s\S])*)```/.exec(docs)?.[1];
    expect(block).toBeDefined();
    const applied = await cluster.kubectl(
      ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
      (block as string).replace('namespace: corp', 'namespace: default'),
    );
    const spec = (JSON.parse(applied) as { spec: { podSelector: unknown; egress: { ports: unknown[] }[] } })
      .spec;
    expect(spec.podSelector).toEqual({ matchLabels: { 'gatehouse.dev/inject': 'true' } });
    expect(spec.egress[0]?.ports).toEqual([{ protocol: 'TCP', port: 8443 }]);
    expect(spec.egress).toHaveLength(3);
  });

  it('explains every field', async () => {
    const spec = await explain('accessapplication.spec');
    expect(spec).toContain('Desired state of an application protected by Gatehouse.');
    expect(spec).toContain('hosts <[]string> -required-');
    const selector = await explain('accesspolicy.spec.include.emailDomains');
    expect(selector).toContain('exactly (sub.example.com is not example.com');
    const status = await explain('accessapplication.status.conditions.reason');
    expect(status).toContain('CamelCase code');
  });

  it.each([
    [
      'a bad CIDR in ipRanges',
      policy('p1', { decision: 'allow', include: [{ ipRanges: ['10.0.0.0/33'] }] }),
      'must be an IP address or a CIDR range',
    ],
    [
      'a bad CIDR in trustedProxies',
      application('a1', { trustedProxies: ['not-an-ip'] }),
      'must be an IP address or a CIDR range',
    ],
    [
      'a bad CIDR in proxyProtocol.from',
      application('a2', { proxyProtocol: { from: ['10.0.0.0/8', 'lb.example.com'] } }),
      'must be an IP address or a CIDR range',
    ],
    [
      'proxyProtocol without a load balancer',
      application('a3', { proxyProtocol: { from: [] } }),
      'should have at least 1 items',
    ],
    [
      'an unknown decision',
      policy('p2', { decision: 'permit', include: [{ everyone: true }] }),
      'Unsupported value: "permit"',
    ],
    [
      'a selector with two fields',
      policy('p3', { decision: 'allow', include: [{ everyone: true, emails: ['a@example.com'] }] }),
      'a selector sets exactly one field',
    ],
    [
      'a selector with no field',
      policy('p4', { decision: 'allow', include: [{}] }),
      'a selector sets exactly one field',
    ],
    [
      'a claim with equals and contains',
      policy('p5', { decision: 'allow', include: [{ claim: { name: 'x', equals: 'a', contains: 'b' } }] }),
      'claim sets exactly one of equals or contains',
    ],
    [
      'a claim with neither',
      policy('p6', { decision: 'allow', include: [{ claim: { name: 'x' } }] }),
      'claim sets exactly one of equals or contains',
    ],
    [
      'signedInWithin that is not a duration',
      policy('p9', {
        decision: 'allow',
        include: [{ groups: ['a'] }],
        require: [{ signedInWithin: '15 minutes' }],
      }),
      'spec.require[0].signedInWithin: Invalid value',
    ],
    ['empty include rules', policy('p7', { decision: 'deny', include: [] }), 'spec.include: Invalid value'],
    ['missing include rules', policy('p8', { decision: 'deny' }), 'spec.include: Required value'],
    [
      'a policy named twice',
      application('a2', { policies: [{ name: 'x' }, { name: 'x' }] }),
      '.spec.policies: duplicate entries for key [name="x"]',
    ],
    [
      'identity providers without externalUrl',
      application('a3', {
        authentication: {
          identityProviders: [{ name: 'corp', issuer: 'https://idp.example.com', clientId: 'c' }],
        },
      }),
      'externalUrl is required when identityProviders are set',
    ],
    [
      'tls settings for an http upstream',
      application('a4', { upstream: { url: 'http://127.0.0.1:8080', tls: { serverName: 'app.internal' } } }),
      'tls is for an https url',
    ],
    [
      'an upstream TLS name that is not a DNS name',
      application('a5', { upstream: { url: 'https://app.internal', tls: { serverName: 'App_Internal' } } }),
      'spec.upstream.tls.serverName',
    ],
    [
      'an unknown field',
      policy('p9', { decision: 'allow', include: [{ everyone: true }], exlude: [] }),
      '.spec.exlude: field not declared in schema',
    ],
    [
      'a revocation naming both a user and a subject',
      revocation('r1', { user: 'a@example.com', subject: 'a' }),
      'set exactly one of user, subject, session and providerSession',
    ],
    [
      'a revocation naming no one',
      revocation('r2', {}),
      'set exactly one of user, subject, session and providerSession',
    ],
    [
      'a revocation with a provider but no subject',
      revocation('r3', { user: 'a@example.com', provider: 'corp' }),
      'provider goes with subject',
    ],
    ['a revocation of a malformed email', revocation('r4', { user: 'alice' }), 'spec.user: Invalid value'],
  ])('refuse %s with a clear message', async (_name, manifest, message) => {
    expect(await refusal(manifest)).toContain(message);
  });
});
