import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import { PODS } from '../../lib/kube/resource-types.ts';
import { type ControlPlane, startControlPlane } from '../helpers/control-plane.ts';
import { kubeconfigWithUser, writeExecPlugin } from '../helpers/exec-plugin.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

/**
 * `gatehouse audit --cluster` reads every sidecar's log through the API server (pods/log). The
 * test API server has no nodes, so a Node object points it at a stand-in kubelet on loopback
 * that serves /containerLogs; the API server's side (pod lookup, container check, proxying) is
 * the real one.
 */
const NS = 'corp';
const auditorKubeconfig = join(mkdtempSync(join(tmpdir(), 'gatehouse-auditor-')), 'kubeconfig');
const served = new Map<string, string>();
const asked: string[] = [];
let cluster: ControlPlane;
let kubelet: Server;

const line = (sessionId: string, uri: string, second: number, app = 'corp/wiki') => {
  const at = `2026-11-20T09:00:${String(second).padStart(2, '0')}`;
  return requestLine({
    requestId: `${sessionId}-${second}`,
    app,
    uri,
    start: `${at}.000Z`,
    end: `${at}.100Z`,
    identity: { kind: 'user', sub: 'alice-sub', email: 'alice@example.com', idp: 'corp' },
    sessionId,
    authMethod: 'oidc',
  });
};

beforeAll(async () => {
  const tls = selfSignedCertificate();
  kubelet = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    asked.push(req.url ?? '');
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
    const previous = /[?&]previous=true/.test(req.url ?? '') ? ' previous' : '';
    const body = match ? served.get(`${match[1]}/${match[2]}/${match[3]}${previous}`) : undefined;
    if (body === undefined) res.writeHead(404).end('no such container log');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  cluster = await startControlPlane();
  const port = (kubelet.address() as AddressInfo).port;
  await cluster.kubectl(['create', 'namespace', NS]);
  await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }),
  );
  await cluster.kubectl([
    'patch',
    'node',
    'node-1',
    '--subresource=status',
    '--type=merge',
    `-p=${JSON.stringify({
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
      },
    })}`,
  ]);
  const admin = new KubeClient(cluster.connection(), { fieldManager: 'test-user' });
  const pod = (name: string, withSidecar: boolean) =>
    admin.create(PODS, NS, {
      metadata: { name, namespace: NS, labels: { 'gatehouse.dev/application': 'wiki' } },
      spec: {
        nodeName: 'node-1',
        ...(withSidecar
          ? { initContainers: [{ name: 'gatehouse', image: 'gatehouse:1', restartPolicy: 'Always' }] }
          : {}),
        containers: [{ name: 'app', image: 'wiki:1' }],
      },
    });
  // The analyst runs as a user bound to the chart's gatehouse-auditor role, and nothing else.
  const roles = await helm(['template', 'gatehouse', CHART, '--show-only', 'templates/analyst-roles.yaml']);
  await cluster.kubectl(['apply', '-f', '-'], roles);
  await cluster.kubectl([
    'create',
    'clusterrolebinding',
    'analyst',
    '--clusterrole=gatehouse-auditor',
    `--user=${cluster.operatorUser.name}`,
  ]);
  writeFileSync(
    auditorKubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'test', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } },
      ],
      users: [{ name: 'analyst', user: { token: cluster.operatorUser.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'analyst', namespace: NS } }],
      'current-context': 'test',
    }),
  );
  await pod('wiki-a', true);
  await pod('wiki-b', true);
  await pod('wiki-legacy', false);
  served.set(`${NS}/wiki-a/gatehouse`, `${line('s1', '/one', 1)}\n${line('s1', '/three', 3)}\n`);
  served.set(`${NS}/wiki-b/gatehouse`, `${line('s1', '/two', 2)}\nnot json\n${line('s2', '/other', 4)}\n`);
  // wiki-b's sidecar restarted once: its earlier lines are the previous instance's log.
  served.set(`${NS}/wiki-b/gatehouse previous`, `${line('s1', '/zero', 0)}\n`);
  await cluster.kubectl([
    'patch',
    'pod',
    'wiki-b',
    '-n',
    NS,
    '--subresource=status',
    '--type=merge',
    `-p=${JSON.stringify({
      status: {
        initContainerStatuses: [
          {
            name: 'gatehouse',
            ready: true,
            restartCount: 1,
            image: 'gatehouse:1',
            imageID: '',
            state: { running: {} },
          },
        ],
      },
    })}`,
  ]);
}, 60_000);

afterAll(async () => {
  kubelet?.close();
  await cluster?.stop();
});

/** Alice's sessions, as JSON, read from the cluster with the given kubeconfig. */
const aliceSessions = (kubeconfig: string) =>
  runGatehouse([
    'audit',
    'sessions',
    '--user',
    'alice@example.com',
    '--cluster',
    '--kubeconfig',
    kubeconfig,
    '--format',
    'json',
  ]);

describe('gatehouse audit --cluster', () => {
  it("reads every injected sidecar's log through the API server and rebuilds sessions across pods", async () => {
    const { code, stdout, stderr } = await aliceSessions(auditorKubeconfig);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const sessions = JSON.parse(stdout) as { sessionId: string; requests: { uri: string }[] }[];
    expect(sessions.map((s) => [s.sessionId, s.requests.map((r) => r.uri)])).toEqual([
      ['s1', ['/zero', '/one', '/two', '/three']],
      ['s2', ['/other']],
    ]);
    // Only the sidecar containers of labelled pods were read, and the restarted one's previous instance.
    const read = asked
      .map((u) => `${u.split('?')[0]}${u.includes('previous=true') ? ' (previous)' : ''}`)
      .sort();
    expect(read).toEqual([
      `/containerLogs/${NS}/wiki-a/gatehouse`,
      `/containerLogs/${NS}/wiki-b/gatehouse`,
      `/containerLogs/${NS}/wiki-b/gatehouse (previous)`,
    ]);
  });

  it('reads the cluster through a kubeconfig with an exec credential plugin, run once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-exec-'));
    const plugin = writeExecPlugin(dir, 'analyst-sso', {
      token: cluster.operatorUser.token,
      expiresInSeconds: 900,
    });
    const kubeconfig = kubeconfigWithUser(join(dir, 'kubeconfig'), cluster, { exec: plugin.exec }, NS);
    const { code, stdout, stderr } = await aliceSessions(kubeconfig);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { sessionId: string }[]).map((s) => s.sessionId)).toEqual(['s1', 's2']);
    // A list and three pod logs, one plugin run.
    expect(plugin.runs()).toHaveLength(1);
  });

  it('passes --since on as sinceTime, and says clearly when the API refuses', async () => {
    asked.length = 0;
    await runGatehouse([
      'audit',
      'ip',
      '192.0.2.10',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig,
      '--since',
      '2026-11-20T08:00:00Z',
    ]);
    expect(asked.every((u) => u.includes('sinceTime=2026-11-20T08%3A00%3A00Z'))).toBe(true);
    const refused = await runGatehouse(['audit', 'sessions', '--cluster', '--kubeconfig', '/nonexistent']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^gatehouse audit: .*nonexistent/);
  });
});
