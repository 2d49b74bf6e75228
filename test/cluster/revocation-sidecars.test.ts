import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_APPLICATIONS, ACCESS_REVOCATIONS } from '../../contract/api/resource-types.ts';
import { type DevProvider, startDevProvider } from '../../examples/demo/dev-provider.ts';
import { PODS, SERVICE_ACCOUNTS } from '../../lib/kube/resource-types.ts';
import { kubeconfigWithUser } from '../helpers/exec-plugin.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { eventually, type OperatorCluster, startOperatorCluster } from '../helpers/operator-cluster.ts';
import { runGatehouse, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { type StandInKubelet, setSidecarStatus, startStandInKubelet } from '../helpers/stand-in-kubelet.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import type { TestUpstream } from '../helpers/upstream.ts';
import { applyWikiPrerequisites, startEchoUpstream, wikiSpec } from '../helpers/wiki-app.ts';

/**
 * `gatehouse revoke` confirms a revocation where it takes effect: every running sidecar of the
 * covered applications wrote that it applied it (its `revocation_applied` line), read through
 * pods/log as the analyst, bound to the chart's gatehouse-revoker role. Real operator, real
 * sidecars on its config stream (one through a TCP proxy the test cuts), real API server; a
 * stand-in kubelet serves each sidecar's standard output as its container log.
 */
const NS = 'corp';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-revocation-sidecars-'));

let env: OperatorCluster;
let provider: DevProvider;
let upstream: TestUpstream;
let kubelet: StandInKubelet;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
const sidecars = new Map<string, SidecarProcess>();
/** Pods whose log the stand-in kubelet holds without an answer; answers held, ended at the end. */
const slowLogs = new Set<string>();
const held: ServerResponse[] = [];
/** Pods deleted when their log is asked for (the kubelet then has none). */
const deletedWhenAsked = new Set<string>();
/** The analyst bound to the chart's gatehouse-revoker role; one bound to a role without pods. */
let revoker: string;
let withoutPods: string;

/** A pod of wiki on the stand-in kubelet's node, with the sidecar as a native sidecar container. */
async function wikiPod(name: string): Promise<string> {
  await env.admin.create(PODS, NS, {
    metadata: { name, namespace: NS, labels: { 'gatehouse.dev/application': 'wiki' } },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'wiki',
      initContainers: [{ name: 'gatehouse', image: 'gatehouse:1', restartPolicy: 'Always' }],
      containers: [{ name: 'app', image: 'wiki:1' }],
    },
  });
  const file = join(dir, `token-${name}`);
  writeFileSync(file, await env.cluster.podToken(NS, 'wiki', name));
  return file;
}

/** `gatehouse revoke` as the analyst of this kubeconfig. */
const revoke = (kubeconfig: string, user: string, ...more: string[]) =>
  runGatehouse(['revoke', '--user', user, '--app', `${NS}/wiki`, '--kubeconfig', kubeconfig, ...more]);

beforeAll(async () => {
  env = await startOperatorCluster({ namespaces: [NS] });
  // Each sidecar's standard output is its container log, with the kubelet's time of each line.
  kubelet = await startStandInKubelet(env.cluster, ({ namespace, pod, container, query }, res) => {
    if (slowLogs.has(pod)) {
      held.push(res);
      return;
    }
    if (deletedWhenAsked.has(pod)) {
      void env.cluster
        .kubectl(['delete', 'pod', pod, '-n', NS, '--grace-period=0', '--force'])
        .then(() => res.writeHead(404).end('no such container'));
      return;
    }
    const sidecar = namespace === NS && container === 'gatehouse' ? sidecars.get(pod) : undefined;
    if (!sidecar) {
      res.writeHead(404).end('no such container log');
      return;
    }
    const since = Date.parse(query.get('sinceTime') ?? '1970-01-01T00:00:00Z');
    const stamped = query.get('timestamps') === 'true';
    const lines = sidecar.lines
      .filter((line) => Date.parse(String(line.time)) >= since)
      .map((line) => `${stamped ? `${String(line.time)} ` : ''}${JSON.stringify(line)}\n`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join(''));
  });
  upstream = await startEchoUpstream([]);
  provider = await startDevProvider({
    clients: [
      {
        client_id: 'wiki',
        client_secret: 'wiki-secret',
        redirect_uris: ['https://wiki.example.com/.gatehouse/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
  });
  await applyWikiPrerequisites(env.admin, NS);
  await env.admin.apply(ACCESS_APPLICATIONS, {
    metadata: { name: 'wiki', namespace: NS },
    spec: wikiSpec({
      hosts: ['wiki.example.com'],
      upstreamUrl: upstream.url,
      externalUrl: 'https://wiki.example.com',
      issuer: provider.issuer,
    }),
  });
  await env.admin.create(SERVICE_ACCOUNTS, NS, { metadata: { name: 'wiki', namespace: NS } });
  await eventually(
    async () => {
      const ready = await env.ready(ACCESS_APPLICATIONS, NS, 'wiki');
      if (ready?.status !== 'True') throw new Error(JSON.stringify(ready));
      return true;
    },
    10_000,
    'wiki Ready',
  );
  // wiki-1 streams its config straight from the operator; wiki-2 through a proxy the test cuts.
  const direct = env.sidecarSourceArgs(await wikiPod('wiki-1'));
  const operatorUrl = new URL(direct[direct.indexOf('--operator-url') + 1] as string);
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(operatorUrl.port) });
  const throughProxy = env
    .sidecarSourceArgs(await wikiPod('wiki-2'))
    .map((arg) => (arg === operatorUrl.href.replace(/\/$/, '') ? `https://127.0.0.1:${proxy.port}` : arg));
  expect(throughProxy).toContain(`https://127.0.0.1:${proxy.port}`);
  sidecars.set('wiki-1', await startSidecarProcess({ sourceArgs: direct }));
  sidecars.set('wiki-2', await startSidecarProcess({ sourceArgs: throughProxy }));
  for (const sidecar of sidecars.values()) await sidecar.waitForLine((l) => l.type === 'config_loaded');
  await setSidecarStatus(env.cluster, NS, 'wiki-1', { running: true });
  await setSidecarStatus(env.cluster, NS, 'wiki-2', { running: true });
  // A pod whose sidecar is not running serves no one, and is not waited for.
  await wikiPod('wiki-3');
  await setSidecarStatus(env.cluster, NS, 'wiki-3', { running: false });

  const roles = await helm(['template', 'gatehouse', CHART, '--show-only', 'templates/analyst-roles.yaml']);
  await env.cluster.kubectl(['apply', '-f', '-'], roles);
  await env.cluster.kubectl([
    'create',
    'clusterrolebinding',
    'analyst',
    '--clusterrole=gatehouse-revoker',
    '--user=analyst',
  ]);
  // The revoker role as it was before it could read the sidecars.
  await env.cluster.kubectl([
    'create',
    'clusterrole',
    'revoker-without-pods',
    '--verb=get,list,watch,create,delete',
    '--resource=accessrevocations.gatehouse.dev,accessapplications.gatehouse.dev',
  ]);
  await env.cluster.kubectl([
    'create',
    'clusterrolebinding',
    'narrow-analyst',
    '--clusterrole=revoker-without-pods',
    '--user=narrow-analyst',
  ]);
  const admin = env.cluster.admin.token;
  revoker = kubeconfigWithUser(join(dir, 'revoker'), env.cluster, { token: admin, as: 'analyst' }, NS);
  withoutPods = kubeconfigWithUser(
    join(dir, 'narrow'),
    env.cluster,
    { token: admin, as: 'narrow-analyst' },
    NS,
  );
}, 90_000);

afterAll(async () => {
  for (const res of held) res.destroy();
  for (const sidecar of sidecars.values()) await sidecar.stop();
  await proxy?.close();
  kubelet?.close();
  await provider?.close();
  await upstream?.close();
  await env?.stop();
});

describe('gatehouse revoke confirms each running sidecar', () => {
  it('says every running sidecar applied it, by name, once their logs say so', async () => {
    const ok = await revoke(revoker, 'alice@example.com');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`are ended in 1 application: ${NS}/wiki.`);
    expect(ok.stdout).toContain(
      `Applied by every running sidecar: 2 running sidecars (${NS}/wiki-1, ${NS}/wiki-2).\n`,
    );
    const name = /accessrevocation\.gatehouse\.dev\/(\S+) created/.exec(ok.stdout)?.[1];
    for (const sidecar of sidecars.values())
      expect(sidecar.lines.some((l) => l.type === 'revocation_applied' && l.revocation === name)).toBe(true);
    // The log is read with the kubelet's times, from a little before the revocation.
    expect(kubelet.asked.some((u) => u.includes('timestamps=true') && u.includes('sinceTime='))).toBe(true);

    const json = await revoke(revoker, 'alice@example.com', '--format', 'json');
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as { sidecars: Record<string, unknown> };
    expect(result.sidecars).toMatchObject({
      checked: true,
      running: 2,
      applied: [
        { pod: `${NS}/wiki-1`, application: `${NS}/wiki`, ready: true },
        { pod: `${NS}/wiki-2`, application: `${NS}/wiki`, ready: true },
      ],
      pending: [],
    });
  }, 30_000);

  it('names a sidecar whose config stream is down, says how to end its sessions now, and exits 1', async () => {
    const cut = sidecars.get('wiki-2') as SidecarProcess;
    proxy.setDown(true);
    await cut.waitForLine((l) => l.type === 'config_stream_disconnected');
    const asked = kubelet.asked.length;
    const started = Date.now();
    const refused = await revoke(revoker, 'bob@example.com', '--wait', '3s');
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`are ended in 1 application: ${NS}/wiki.`);
    expect(refused.stdout).toContain('Applied by 1 of 2 running sidecars.\n');
    expect(refused.stderr).toMatch(
      /^gatehouse revoke: 1 of 2 running sidecars did not write that it applied it within 3s; the sessions it covers go on there until it applies it \(the AccessRevocation stays; confirm again with gatehouse revoke --check \S+\):\n {2}corp\/wiki-2 \(corp\/wiki\): ready, without it: its config stream is likely down/,
    );
    expect(refused.stderr).toContain('to end its sessions now: kubectl delete pod -n corp wiki-2\n');
    const name = /accessrevocation\.gatehouse\.dev\/(\S+) created/.exec(refused.stdout)?.[1];
    expect(cut.lines.some((l) => l.type === 'revocation_applied' && l.revocation === name)).toBe(false);
    // Read again round after round, each time from the last second read, not from the start.
    const since = kubelet.asked
      .slice(asked)
      .filter((u) => u.startsWith(`/containerLogs/${NS}/wiki-2/`))
      .map((u) => new URL(u, 'https://kubelet').searchParams.get('sinceTime') ?? '');
    expect(since.length).toBeGreaterThan(3);
    expect(Date.parse(since.at(-1) as string)).toBeGreaterThan(Date.parse(since[0] as string));

    expect(refused.stderr).toContain(`confirm again with gatehouse revoke --check ${name}`);
    const stillCut = await runGatehouse([
      'revoke',
      '--check',
      name as string,
      '--kubeconfig',
      revoker,
      '--wait',
      '1s',
    ]);
    expect(stillCut.code).toBe(1);
    expect(stillCut.stdout).toMatch(new RegExp(`^accessrevocation\\.gatehouse\\.dev/${name}\n`));
    expect(stillCut.stdout).toContain('Applied by 1 of 2 running sidecars.\n');

    // Back on its stream, it applies it with the config it gets, and says so; confirmed again,
    // by name, nothing made anew.
    proxy.setDown(false);
    await cut.waitForLine((l) => l.type === 'revocation_applied' && l.revocation === name, 15_000);
    const revocations = (await env.admin.list(ACCESS_REVOCATIONS)).items.length;
    const again = await runGatehouse(['revoke', '--check', name as string, '--kubeconfig', revoker]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `accessrevocation.gatehouse.dev/${name}\n` +
        `Sessions of bob@example.com signed in at or before ${refused.stdout.match(/at or before (\S+) are/)?.[1]} are ended in 1 application: ${NS}/wiki.\n` +
        `The revocation expires at ${refused.stdout.match(/expires at (\S+),/)?.[1]}, when no session it covers can still be alive.\n` +
        `Applied by every running sidecar: 2 running sidecars (${NS}/wiki-1, ${NS}/wiki-2).\n`,
    );
    expect((await env.admin.list(ACCESS_REVOCATIONS)).items.length).toBe(revocations);
    const missing = await runGatehouse(['revoke', '--check', 'nobody-x1y2z', '--kubeconfig', revoker]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'gatehouse revoke: no AccessRevocation nobody-x1y2z: it expired and was deleted (no session it covers can still be alive), was lifted (kubectl delete), or never was\n',
    );
  }, 40_000);

  it('without the right to read pods, says the sidecars were not checked and confirms by the config', async () => {
    const asked = kubelet.asked.length;
    const ok = await revoke(withoutPods, 'carol@example.com');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`are ended in 1 application: ${NS}/wiki.`);
    expect(ok.stdout).not.toContain('running sidecar');
    expect(ok.stderr).toBe(
      `gatehouse revoke: the sidecars were not checked: may not list pods in ${NS} (forbidden). The config of every covered application carries it; to confirm each sidecar, bind the chart's gatehouse-revoker role (it lists pods and reads their logs), or give --confirm config.\n`,
    );
    // --confirm config asks nothing of the pods.
    const byConfig = await revoke(withoutPods, 'carol@example.com', '--confirm', 'config');
    expect(byConfig.stderr).toBe('');
    expect(byConfig.code).toBe(0);
    expect(kubelet.asked.length).toBe(asked);
    const bad = await revoke(revoker, 'carol@example.com', '--confirm', 'pods');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--confirm must be sidecars or config');
  }, 30_000);

  it('tells a log not read in time, and a container the kubelet has no log of, from a sidecar without it; a pod deleted meanwhile is not waited for', async () => {
    for (const pod of ['wiki-slow', 'wiki-nolog', 'wiki-deleted']) {
      await wikiPod(pod);
      await setSidecarStatus(env.cluster, NS, pod, { running: true });
    }
    slowLogs.add('wiki-slow');
    deletedWhenAsked.add('wiki-deleted');
    const started = Date.now();
    const result = await revoke(revoker, 'dave@example.com', '--wait', '2s');
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Applied by 2 of 4 running sidecars (1 deleted meanwhile).\n');
    expect(result.stderr).toContain(
      `  ${NS}/wiki-slow (${NS}/wiki): its log was not read before --wait ran out (give a longer --wait)\n`,
    );
    expect(result.stderr).toMatch(
      new RegExp(`  ${NS}/wiki-nolog \\(${NS}/wiki\\): its log could not be read: .*\\n`),
    );
    expect(result.stderr).not.toContain('wiki-deleted');
    expect(result.stderr).toMatch(
      /^gatehouse revoke: 2 of 4 running sidecars did not write that they applied it within 2s/,
    );
    slowLogs.delete('wiki-slow');
    for (const pod of ['wiki-slow', 'wiki-nolog'])
      await env.cluster.kubectl(['delete', 'pod', pod, '-n', NS, '--grace-period=0', '--force']);
  }, 30_000);

  it('warns of a pod of the application that runs without the sidecar (anyone reaches the application through it), and exits 1', async () => {
    await env.admin.create(PODS, NS, {
      metadata: { name: 'wiki-bare', namespace: NS, labels: { 'gatehouse.dev/application': 'wiki' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'wiki:1' }] },
    });
    try {
      const result = await revoke(revoker, 'erin@example.com');
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        `Applied by every running sidecar: 2 running sidecars (${NS}/wiki-1, ${NS}/wiki-2).\n`,
      );
      expect(result.stderr).toBe(
        `gatehouse revoke: 1 pod of the covered applications runs without the Gatehouse sidecar, so anyone reaches the application through it with no sign-in at all, and no revocation ends anything there: ${NS}/wiki-bare. Delete it to have it made again with the sidecar (the application's Protected condition; docs/troubleshooting.md).\n`,
      );
      const json = JSON.parse((await revoke(revoker, 'erin@example.com', '--format', 'json')).stdout) as {
        sidecars: { withoutSidecar: string[] };
      };
      expect(json.sidecars.withoutSidecar).toEqual([`${NS}/wiki-bare`]);
    } finally {
      await env.cluster.kubectl(['delete', 'pod', 'wiki-bare', '-n', NS, '--grace-period=0', '--force']);
    }
  }, 30_000);
});
