import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Condition } from '../../contract/api/status.ts';
import { APPLICATION_KEY } from '../../contract/injection.ts';
import { createConnection } from '../../lib/kube/connection.ts';
import { KubeClient } from '../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { PODS, type ResourceType, SERVICE_ACCOUNTS } from '../../lib/kube/resource-types.ts';
import { createOperator, type Operator, type OperatorOptions } from '../../operator/src/operator.ts';
import { logOperatorEvent, type OperatorLog } from '../../operator/src/operator-log.ts';
import { operatorRbac } from '../../operator/src/rbac.ts';
import { type ControlPlane, startControlPlane } from './control-plane.ts';
import { operatorLineProblems } from './log-line-check.ts';
import { startTcpProxy } from './tcp-proxy.ts';
import { selfSignedCertificate } from './tls.ts';

const CRDS = resolve(import.meta.dirname, '../../crds');
export const OPERATOR_NAMESPACE = 'gatehouse-system';

/** Tight timings so failures and recoveries show within a test's time. */
export const TEST_OPERATOR_TIMINGS = {
  lease: { durationMs: 4_000, renewMs: 1_000, retryMs: 500 },
  watch: {
    // The server ends each watch within ~2 s, before the 3 s stall timeout: a quiet watch is
    // renewed, and only a frozen connection counts as stalled (as in production, scaled down).
    watchTimeoutSeconds: 2,
    stallTimeoutMs: 3_000,
    resyncMs: 10 * 60_000,
    backoff: { baseMs: 100, maxMs: 1_000 },
  },
  heartbeatMs: 1_000,
} as const;

/** Applies the CRDs and waits until the API server serves them. */
export async function applyCrds(cluster: ControlPlane): Promise<void> {
  await cluster.kubectl(['apply', '--server-side', '-f', CRDS]);
  await waitForCrds(cluster);
}

/** Waits until the API server serves both Gatehouse CRDs. */
export async function waitForCrds(cluster: ControlPlane): Promise<void> {
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    'crd/accessapplications.gatehouse.dev',
    'crd/accesspolicies.gatehouse.dev',
    'crd/accessrevocations.gatehouse.dev',
  ]);
}

/** Applies the CRDs, the operator's namespace and roles (bound to the operator's test user). */
export async function installGatehouse(cluster: ControlPlane, namespaces: string[] = []): Promise<void> {
  await applyCrds(cluster);
  const docs = [
    ...[OPERATOR_NAMESPACE, ...namespaces].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    })),
    ...operatorRbac(OPERATOR_NAMESPACE, { kind: 'User', name: cluster.operatorUser.name }),
  ];
  await cluster.kubectl(['apply', '--server-side', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
}

/** Polls until check returns a value (not undefined/false); rejects with the last state after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `${what}: not reached in ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

export interface OperatorCluster {
  readonly cluster: ControlPlane;
  readonly operator: Operator;
  /** Writes as a user would (its own field manager). */
  readonly admin: KubeClient;
  readonly ports: { deliveryPort: number; adminPort: number };
  readonly tls: ReturnType<typeof selfSignedCertificate>;
  readonly proxy?: Awaited<ReturnType<typeof startTcpProxy>>;
  ready(resource: ResourceType, namespace: string, name: string): Promise<Condition | undefined>;
  /**
   * Creates a ServiceAccount and pods of an application running under it (API objects only), and
   * writes each pod a pod-bound token for audience gatehouse, as the kubelet would project it.
   * Resolves with the token files by pod name.
   */
  applicationPods(
    namespace: string,
    application: string,
    serviceAccount: string,
    pods: readonly string[],
  ): Promise<Record<string, string>>;
  /** The sidecar flags that stream its config from this operator with a token file. */
  sidecarSourceArgs(tokenFile: string): string[];
  /** Starts another operator replica on the same delivery port and certificate (after the first has stopped). */
  startReplacement(identity: string): Promise<Operator>;
  stop(): Promise<void>;
}

/**
 * The operator's events written as the operator writes them, and each checked against its schema
 * (contract/operator-events.ts); what is wrong is kept for the stop to report.
 */
function checkedOperatorLog(): { readonly log: OperatorLog; readonly problems: string[] } {
  const problems: string[] = [];
  const log: OperatorLog = (type, fields) => {
    logOperatorEvent(type, fields);
    // As on stdout: fields left undefined are not in the line.
    const line = JSON.parse(JSON.stringify({ time: new Date().toISOString(), type, ...fields })) as unknown;
    const found = operatorLineProblems(line);
    if (found.length > 0 && problems.length < 5)
      problems.push(`${found.join('; ')} in ${JSON.stringify(line)}`);
  };
  return { log, problems };
}

/**
 * A real API server with Gatehouse installed and an operator running in this process as the
 * RBAC-limited operator user; optionally through a TCP proxy the test can break.
 */
export async function startOperatorCluster(
  options: { namespaces?: string[]; throughProxy?: boolean; operator?: Partial<OperatorOptions> } = {},
): Promise<OperatorCluster> {
  const cluster = await startControlPlane();
  await installGatehouse(cluster, options.namespaces);
  const tls = selfSignedCertificate();
  const apiserver = new URL(cluster.server);
  const proxy = options.throughProxy
    ? await startTcpProxy({ host: '127.0.0.1', port: Number(apiserver.port) })
    : undefined;
  const connection = createConnection({
    server: proxy ? `https://127.0.0.1:${proxy.port}` : cluster.server,
    ca: readFileSync(cluster.caFile),
    token: cluster.operatorUser.token,
  });
  const { log, problems } = checkedOperatorLog();
  const operator = createOperator({
    connection,
    log,
    namespace: OPERATOR_NAMESPACE,
    identity: 'operator-0',
    tls: { cert: tls.cert, key: tls.key },
    deliveryListen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    ...TEST_OPERATOR_TIMINGS,
    ...options.operator,
  });
  const ports = await operator.start();
  const admin = new KubeClient(cluster.connection(), { fieldManager: 'test-user' });
  const tokens = mkdtempSync(join(tmpdir(), 'gatehouse-pod-tokens-'));
  return {
    cluster,
    operator,
    admin,
    ports,
    tls,
    ...(proxy ? { proxy } : {}),
    async ready(resource, namespace, name) {
      const object: KubeObject | undefined = await admin.get(resource, namespace, name);
      return (object?.status as { conditions?: Condition[] } | undefined)?.conditions?.find(
        (c) => c.type === 'Ready',
      );
    },
    async applicationPods(namespace, application, serviceAccount, pods) {
      await admin.create(SERVICE_ACCOUNTS, namespace, { metadata: { name: serviceAccount, namespace } });
      const files: Record<string, string> = {};
      for (const pod of pods) {
        await admin.create(PODS, namespace, {
          metadata: { name: pod, namespace, labels: { [APPLICATION_KEY]: application } },
          spec: {
            serviceAccountName: serviceAccount,
            // As the webhook injects it: the sidecars themselves run as processes of the test.
            initContainers: [{ name: 'gatehouse', image: 'gatehouse:1', restartPolicy: 'Always' }],
            containers: [{ name: 'app', image: `${application}:1` }],
          },
        });
        const file = join(tokens, `${namespace}-${pod}`);
        writeFileSync(file, await cluster.podToken(namespace, serviceAccount, pod));
        files[pod] = file;
      }
      return files;
    },
    sidecarSourceArgs: (tokenFile) => [
      '--operator-url',
      `https://127.0.0.1:${ports.deliveryPort}`,
      '--operator-ca',
      tls.certFile,
      '--token-file',
      tokenFile,
    ],
    async startReplacement(identity) {
      const replacement = createOperator({
        connection: cluster.connection(cluster.operatorUser),
        log,
        namespace: OPERATOR_NAMESPACE,
        identity,
        tls: { cert: tls.cert, key: tls.key },
        deliveryListen: { host: '127.0.0.1', port: ports.deliveryPort },
        adminListen: { host: '127.0.0.1', port: 0 },
        ...TEST_OPERATOR_TIMINGS,
      });
      await replacement.start();
      return replacement;
    },
    async stop() {
      await operator.stop(2_000);
      await proxy?.close();
      await cluster.stop();
      if (problems.length > 0)
        throw new Error(`operator log lines that do not match their schema:\n${problems.join('\n')}`);
    },
  };
}
