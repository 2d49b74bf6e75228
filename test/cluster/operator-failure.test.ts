import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFECT_EXIT_CODE } from '../../lib/defects.ts';
import { type ControlPlane, startControlPlane } from '../helpers/control-plane.ts';
import { kubeconfigWithUser } from '../helpers/exec-plugin.ts';
import { eventually, installGatehouse, OPERATOR_NAMESPACE } from '../helpers/operator-cluster.ts';
import { startOperatorProcess } from '../helpers/operator-process.ts';
import {
  PLANTED_CREDENTIAL,
  PLANTED_REJECTION,
  PLANTED_REJECTION_LOGGED,
  PLANTED_THROW,
  plantedDefect,
} from '../helpers/planted-defect.ts';

// An error nothing in the operator handles ends it, as Node.js would end it; before, the reason
// went to stderr as text only, beside a log stream of JSON lines that alerting reads. The built
// operator with a defect planted by a module loaded before it; its API server does not answer
// (the defect needs none).

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-operator-failure-'));
writeFileSync(
  join(dir, 'kubeconfig'),
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:9' } }],
    users: [{ name: 'operator', user: { token: 'not-used' } }],
    contexts: [{ name: 'none', context: { cluster: 'none', user: 'operator' } }],
    'current-context': 'none',
  }),
);

describe('an operator defect', () => {
  it.each([
    ['SIGUSR2', 'uncaught_exception', `Error: ${PLANTED_THROW}`, PLANTED_THROW],
    // The rejection quotes a credential: neither the log line nor stderr carries it.
    ['SIGWINCH', 'unhandled_rejection', PLANTED_REJECTION_LOGGED, `${PLANTED_REJECTION} Bearer [credential]`],
  ] as const)(
    `(%s: %s) is a line on the log stream, then exit ${DEFECT_EXIT_CODE}`,
    async (signal, origin, error, printed) => {
      const operator = await startOperatorProcess(
        [
          `--kubeconfig=${join(dir, 'kubeconfig')}`,
          '--listen=127.0.0.1:0',
          '--admin-listen=127.0.0.1:0',
          '--tls-hosts=127.0.0.1',
        ],
        { POD_NAMESPACE: 'gatehouse-system' },
        plantedDefect(),
      );
      const exited = new Promise<number | null>((resolve) =>
        operator.child.on('exit', (code) => resolve(code)),
      );
      operator.child.kill(signal);
      expect(await exited).toBe(DEFECT_EXIT_CODE);
      // Every line it wrote matches its schema (checked by stop), the failure among them.
      expect(await operator.stop()).toBe(DEFECT_EXIT_CODE);
      const failed = operator.lines.filter((line) => line.type === 'operator_failed');
      expect(failed).toEqual([expect.objectContaining({ origin, error })]);
      const stack = (failed[0]?.stack ?? []) as string[];
      expect(stack[0]).toContain('planted-defect.mjs');
      expect(operator.stderr()).toContain(printed);
      expect(JSON.stringify(operator.lines)).not.toContain(PLANTED_CREDENTIAL);
      expect(operator.stderr()).not.toContain(PLANTED_CREDENTIAL);
    },
  );
});

describe('an operator defect that quotes a secret of an application it renders', () => {
  // A client secret as Keycloak makes them: 32 letters and digits, shorter than the shapes the
  // scrub looks for, so only its value finds it.
  const clientSecret = 'kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA';
  let cluster: ControlPlane;

  beforeAll(async () => {
    cluster = await startControlPlane();
    await installGatehouse(cluster, ['shop']);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the line and stderr carry [secret], not the secret', async () => {
    const docs = [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'idp', namespace: 'shop' },
        stringData: { 'client-secret': clientSecret },
      },
      {
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessPolicy',
        metadata: { name: 'staff', namespace: 'shop' },
        spec: { decision: 'allow', include: [{ authenticated: true }] },
      },
      {
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessApplication',
        metadata: { name: 'wiki', namespace: 'shop' },
        spec: {
          hosts: ['wiki.example.com'],
          upstream: { url: 'http://127.0.0.1:8080' },
          policies: [{ name: 'staff' }],
          authentication: {
            externalUrl: 'https://wiki.example.com',
            identityProviders: [
              {
                name: 'corp',
                issuer: 'https://sso.example.com/realms/corp',
                clientId: 'wiki',
                clientSecretRef: { name: 'idp', key: 'client-secret' },
              },
            ],
          },
        },
      },
    ];
    await cluster.kubectl(['apply', '--server-side', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
    const kubeconfig = kubeconfigWithUser(join(dir, 'operator-kubeconfig'), cluster, {
      token: cluster.operatorUser.token,
    });
    const operator = await startOperatorProcess(
      [
        `--kubeconfig=${kubeconfig}`,
        '--listen=127.0.0.1:0',
        '--admin-listen=127.0.0.1:0',
        '--tls-hosts=127.0.0.1',
      ],
      { POD_NAMESPACE: OPERATOR_NAMESPACE },
      plantedDefect(`client_secret=${clientSecret}`),
    );
    // Rendered and published: the application is Ready.
    await eventually(
      async () => {
        const app = JSON.parse(
          await cluster.kubectl(['get', 'accessapplication', 'wiki', '-n', 'shop', '-o', 'json']),
        ) as { status?: { conditions?: { type: string; status: string }[] } };
        return app.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      60_000,
      'the application Ready',
    );
    const exited = new Promise<number | null>((resolve) =>
      operator.child.on('exit', (code) => resolve(code)),
    );
    operator.child.kill('SIGUSR2');
    expect(await exited).toBe(DEFECT_EXIT_CODE);
    expect(await operator.stop()).toBe(DEFECT_EXIT_CODE);
    const failed = operator.lines.filter((line) => line.type === 'operator_failed');
    expect(failed).toEqual([
      expect.objectContaining({ error: `Error: ${PLANTED_THROW} client_secret=[secret]` }),
    ]);
    expect(JSON.stringify(operator.lines)).not.toContain(clientSecret);
    expect(operator.stderr()).toContain(`${PLANTED_THROW} client_secret=[secret]`);
    expect(operator.stderr()).not.toContain(clientSecret);
  });
});
