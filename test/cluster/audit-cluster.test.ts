import { mkdtempSync } from 'node:fs';
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
import { type StandInKubelet, setSidecarStatus, startStandInKubelet } from '../helpers/stand-in-kubelet.ts';

/**
 * `gatehouse audit --cluster` reads every sidecar's log through the API server (pods/log). The
 * test API server has no nodes, so a Node object points it at a stand-in kubelet on loopback
 * that serves /containerLogs; the API server's side (pod lookup, container check, proxying) is
 * the real one.
 */
const NS = 'corp';
const auditorKubeconfig = join(mkdtempSync(join(tmpdir(), 'gatehouse-auditor-')), 'kubeconfig');
const served = new Map<string, string>();
/** A namespace of many pods whose logs the stand-in kubelet holds open a moment, counting them. */
const FLEET = 'fleet';
const logsOpen = { now: 0, most: 0 };
/** Served as a log: the stand-in kubelet answers 500. */
const FAILING = '!500';
let cluster: ControlPlane;
let kubelet: StandInKubelet;

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

let admin: KubeClient;
/** A pod of an application (with a Gatehouse sidecar or not) on the stand-in kubelet's node. */
const pod = (name: string, withSidecar: boolean, namespace = NS, app = 'wiki') =>
  admin.create(PODS, namespace, {
    metadata: { name, namespace, labels: { 'gatehouse.dev/application': app } },
    spec: {
      nodeName: 'node-1',
      ...(withSidecar
        ? { initContainers: [{ name: 'gatehouse', image: 'gatehouse:1', restartPolicy: 'Always' }] }
        : {}),
      containers: [{ name: 'app', image: 'wiki:1' }],
    },
  });

beforeAll(async () => {
  cluster = await startControlPlane();
  await cluster.kubectl(['create', 'namespace', NS]);
  kubelet = await startStandInKubelet(cluster, ({ namespace, pod, container, query }, res) => {
    const previous = query.get('previous') === 'true' ? ' previous' : '';
    const body = served.get(`${namespace}/${pod}/${container}${previous}`);
    if (body === undefined) res.writeHead(404).end('no such container log');
    else if (body === FAILING) res.writeHead(500).end('kubelet failure');
    else if (namespace === FLEET) {
      // A log that takes a moment to end, so that logs asked for together are open together.
      logsOpen.now++;
      logsOpen.most = Math.max(logsOpen.most, logsOpen.now);
      res.writeHead(200, { 'content-type': 'text/plain' }).write(body);
      setTimeout(() => {
        logsOpen.now--;
        res.end();
      }, 150);
    } else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  admin = new KubeClient(cluster.connection(), { fieldManager: 'test-user' });
  await pod('wiki-a', true);
  await pod('wiki-b', true);
  await pod('wiki-legacy', false);
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
  kubeconfigWithUser(auditorKubeconfig, cluster, { token: cluster.operatorUser.token }, NS);
  served.set(`${NS}/wiki-a/gatehouse`, `${line('s1', '/one', 1)}\n${line('s1', '/three', 3)}\n`);
  served.set(`${NS}/wiki-b/gatehouse`, `${line('s1', '/two', 2)}\nnot json\n${line('s2', '/other', 4)}\n`);
  // wiki-b's sidecar restarted once: its earlier lines are the previous instance's log.
  served.set(`${NS}/wiki-b/gatehouse previous`, `${line('s1', '/zero', 0)}\n`);
  await setSidecarStatus(cluster, NS, 'wiki-b', { running: true, restartCount: 1 });
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

/** Every session of one namespace, as JSON, read from the cluster as its administrator. */
const namespaceSessions = (namespace: string) =>
  runGatehouse([
    'audit',
    'sessions',
    '--cluster',
    '--kubeconfig',
    cluster.kubeconfig,
    '-n',
    namespace,
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
    const read = kubelet.asked
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
    kubelet.asked.length = 0;
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
    expect(kubelet.asked.every((u) => u.includes('sinceTime=2026-11-20T08%3A00%3A00Z'))).toBe(true);
    const refused = await runGatehouse(['audit', 'sessions', '--cluster', '--kubeconfig', '/nonexistent']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^gatehouse audit: .*nonexistent/);
  });

  it('a namespace of 100 sidecars: at most 64 logs asked for at once, every request in order', async () => {
    const PODS_IN_FLEET = 100;
    await cluster.kubectl(['create', 'namespace', FLEET]);
    for (let i = 0; i < PODS_IN_FLEET; i++) {
      const name = `app-${String(i).padStart(3, '0')}`;
      await pod(name, true, FLEET, 'app');
      // Every pod's requests interleave in time with every other's: no order of reading gets by
      // with fewer logs open at once.
      const lines = [0, 1].map((round) => {
        const at = new Date(Date.UTC(2026, 10, 20, 9, round, i % 60, i)).toISOString();
        return requestLine({
          requestId: `${name}-${round}`,
          app: 'fleet/app',
          uri: `/${name}/${round}`,
          start: at,
          end: at,
          identity: { kind: 'user', sub: 'alice-sub', email: 'alice@example.com', idp: 'corp' },
          sessionId: 's-fleet',
          authMethod: 'oidc',
        });
      });
      served.set(`${FLEET}/${name}/gatehouse`, `${lines.join('\n')}\n`);
    }
    logsOpen.most = 0;
    const { code, stdout, stderr } = await namespaceSessions(FLEET);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [session] = JSON.parse(stdout) as { requests: { uri: string; start: string }[] }[];
    expect(session?.requests).toHaveLength(2 * PODS_IN_FLEET);
    const starts = session?.requests.map((r) => r.start) ?? [];
    expect(starts).toEqual([...starts].sort());
    expect(logsOpen.most).toBeGreaterThan(1);
    expect(logsOpen.most).toBeLessThanOrEqual(64);
  });

  it('answers from the logs it can read, names those it cannot and says so in its status', async () => {
    // Pods come and go while an audit reads hundreds of logs: one is gone by the time its log is
    // asked for (the kubelet has none), one's kubelet fails. (A log that fails while read is
    // test/unit/audit-partial.test.ts: the API server ends a log its kubelet cut as if whole.)
    const OPS = 'ops';
    await cluster.kubectl(['create', 'namespace', OPS]);
    const grafana = (uri: string, second: number) => line('g1', uri, second, 'ops/grafana');
    await pod('grafana-a', true, OPS, 'grafana');
    await pod('grafana-gone', true, OPS, 'grafana');
    await pod('grafana-failing', true, OPS, 'grafana');
    served.set(`${OPS}/grafana-a/gatehouse`, `${grafana('/a1', 1)}\n${grafana('/a3', 3)}\n`);
    served.set(`${OPS}/grafana-failing/gatehouse`, FAILING);

    const partial = await namespaceSessions(OPS);
    expect(partial.code).toBe(4);
    const answer = JSON.parse(partial.stdout) as { sessionId: string; requests: { uri: string }[] }[];
    expect(answer.map((s) => [s.sessionId, s.requests.map((r) => r.uri)])).toEqual([['g1', ['/a1', '/a3']]]);
    const warnings = partial.stderr.trim().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(/^gatehouse audit: warning: pod ops\/grafana-failing: not read: .*500/),
      expect.stringMatching(/^gatehouse audit: warning: pod ops\/grafana-gone: not read: .*404/),
      'gatehouse audit: the answer is partial: 2 of 3 logs could not be read, 0 ended early (exit status 4)',
    ]);

    // Nothing readable at all is not an answer.
    served.delete(`${OPS}/grafana-a/gatehouse`);
    const none = await namespaceSessions(OPS);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/gatehouse audit: no sidecar log could be read \(3 of 3\)$/m);
  });
});
