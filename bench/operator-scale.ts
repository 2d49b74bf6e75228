// Operator scale benchmark: a real kube-apiserver + etcd, the operator as its own process (the
// built entry point, RBAC-limited user), then N AccessPolicies and N AccessApplications created at
// once. Prints the time until every application is Ready=True on the API server, the operator's
// RSS, and the time a restarted operator takes to serve all of them again.
//
//   npm run build && node bench/operator-scale.ts [--apps 2000] [--concurrency 4]
import './bench-tmpdir.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ACCESS_APPLICATIONS, ACCESS_POLICIES } from '../contract/api/resource-types.ts';
import { KubeClient } from '../lib/kube/kube-client.ts';
import { startControlPlane } from '../test/helpers/control-plane.ts';
import { installGatehouse, OPERATOR_NAMESPACE } from '../test/helpers/operator-cluster.ts';
import { GATEHOUSE_BIN } from '../test/helpers/sidecar-process.ts';
import { selfSignedCertificate } from '../test/helpers/tls.ts';

const { values } = parseArgs({
  options: { apps: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '4' } },
});
const count = Number(values.apps);
const NS = 'scale';

const cluster = await startControlPlane();
await installGatehouse(cluster, [NS]);
const admin = new KubeClient(cluster.connection(), { fieldManager: 'bench' });
const tls = selfSignedCertificate();
const kubeconfig = join(tls.certFile, '..', 'operator-kubeconfig');
writeFileSync(
  kubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: 'u', user: { token: cluster.operatorUser.token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  }),
);

function startOperator(): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      GATEHOUSE_BIN,
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      OPERATOR_NAMESPACE,
      '--identity',
      'bench',
      '--tls-cert-file',
      tls.certFile,
      '--tls-key-file',
      tls.keyFile,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      '--concurrency',
      values.concurrency,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout?.resume();
  return { child, exited: new Promise((r) => child.once('exit', () => r())) };
}

function rss(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kb('VmRSS') / 1024), peakMiB: Math.round(kb('VmHWM') / 1024) };
}

async function inBatches(
  total: number,
  parallel: number,
  work: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) await work(next++);
    }),
  );
}

async function readyCount(): Promise<number> {
  const { items } = await admin.list(ACCESS_APPLICATIONS, { namespace: NS });
  return items.filter((a) =>
    (a.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
      (c) => c.type === 'Ready' && c.status === 'True',
    ),
  ).length;
}

async function waitAllReady(since: number): Promise<number> {
  for (;;) {
    if ((await readyCount()) === count) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const first = startOperator();
await new Promise((r) => setTimeout(r, 1_500)); // caches synced and Lease taken
const started = Date.now();
await inBatches(count, 32, (i) =>
  admin.apply(ACCESS_POLICIES, {
    metadata: { name: `policy-${i}`, namespace: NS },
    spec: {
      decision: 'allow',
      include: [{ emailDomains: [`team-${i}.example.com`] }, { groups: [`group-${i}`] }],
    },
  }),
);
await inBatches(count, 32, (i) =>
  admin.apply(ACCESS_APPLICATIONS, {
    metadata: { name: `app-${i}`, namespace: NS },
    spec: {
      hosts: [`app-${i}.example.com`],
      upstream: { url: 'http://127.0.0.1:8080' },
      policies: [{ name: `policy-${i}` }],
    },
  }),
);
const createdMs = Date.now() - started;
const convergedMs = await waitAllReady(started);
const afterConverge = rss(first.child.pid as number);
first.child.kill('SIGTERM');
await first.exited;

// A restarted operator: everything exists and is Ready; it must list, render and serve all of it, writing nothing.
const second = startOperator();
const restartStarted = Date.now();
const metricsUrl = await new Promise<string>((resolve) => {
  const onData = (chunk: Buffer) => {
    const match = /"adminPort":(\d+)/.exec(chunk.toString());
    if (match) {
      second.child.stdout?.off('data', onData);
      resolve(`http://127.0.0.1:${match[1]}/metrics`);
    }
  };
  second.child.stdout?.on('data', onData);
});
const allServed = new RegExp(`gatehouse_operator_applications\\{ready="True"\\} ${count}\\b`);
while (!allServed.test(await (await fetch(metricsUrl)).text())) await new Promise((r) => setTimeout(r, 100));
const servedMs = Date.now() - restartStarted;
const afterRestart = rss(second.child.pid as number);
second.child.kill('SIGTERM');
await second.exited;
await cluster.stop();

console.log(
  JSON.stringify(
    {
      applications: count,
      policies: count,
      createMs: createdMs,
      allReadyMs: convergedMs,
      operatorRss: afterConverge,
      restartAllServedMs: servedMs,
      restartRss: afterRestart,
    },
    null,
    2,
  ),
);
