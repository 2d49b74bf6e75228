import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection, type KubeConnection } from '../../lib/kube/connection.ts';

const ROOT = resolve(import.meta.dirname, '../..');

let assets: string | undefined;

/**
 * An API server starts at this niceness and goes back to normal once /readyz answers: its start-up
 * (seconds of both cores) yields to the tests running beside it, whose latency it would otherwise
 * take (control-plane-faults restarts one ten times beside the other cluster files).
 * Only where the priority can be raised again afterwards (root); elsewhere it starts as before.
 */
const STARTING_NICENESS = 10;
const canRestorePriority = process.getuid?.() === 0;

/** Back to niceness 0, every thread (Linux keeps niceness per thread). */
function restorePriority(pid: number | undefined): void {
  if (pid === undefined) return;
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // exited meanwhile
  }
  for (const tid of threads) {
    try {
      setPriority(Number(tid), 0);
    } catch {
      // a thread that ended meanwhile
    }
  }
}

/** The directory with kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS, else built once into the cache. */
export function controlPlaneAssets(): string {
  assets ??= execFileSync('bash', [resolve(ROOT, 'scripts/control-plane.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return assets;
}

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  // Below the kernel's ephemeral range (32768-60999 here): a port from that range, free when
  // picked, was taken as the source port of some test's outgoing connection before the process
  // meant for it listened (EADDRINUSE, CI run AQ). Outgoing connections never get these.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PICKED_PORTS_FROM + Math.floor(Math.random() * (PICKED_PORTS_TO - PICKED_PORTS_FROM));
    if (await canListen(port)) return port;
  }
  return listenedPort(0);
}

const PICKED_PORTS_FROM = 20_000;
const PICKED_PORTS_TO = 32_768;

async function canListen(port: number): Promise<boolean> {
  try {
    return (await listenedPort(port)) === port;
  } catch {
    return false;
  }
}

/** Listens on 127.0.0.1:`port` (0: any), closes, and says which port it had. */
async function listenedPort(port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: had } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return had;
}

/** The fields of an audit.k8s.io/v1 Event that tests read. */
export interface AuditEvent {
  readonly stage: string;
  readonly verb: string;
  readonly user: { readonly username: string };
  readonly impersonatedUser?: { readonly username: string };
  readonly objectRef?: {
    readonly resource?: string;
    readonly subresource?: string;
    readonly apiGroup?: string;
  };
  readonly responseStatus?: { readonly code?: number };
}

/** A user known to the API server through its static token file. */
export interface TestUser {
  readonly name: string;
  readonly token: string;
  readonly groups: readonly string[];
}

export interface ControlPlane {
  readonly server: string;
  readonly caFile: string;
  readonly kubeconfig: string;
  readonly admin: TestUser;
  /** A user with no permissions of its own; bind roles to it by name. */
  readonly operatorUser: TestUser;
  connection(user?: TestUser): KubeConnection;
  /** Runs kubectl as admin; rejects with its stderr on a non-zero exit. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** A token of a ServiceAccount from the TokenRequest API, bound to a Pod, for audience gatehouse (as a projected one is). */
  podToken(namespace: string, serviceAccount: string, pod: string): Promise<string>;
  /** The API server's audit events so far (startControlPlane({ audit: true }) only). */
  auditEvents(): AuditEvent[];
  /** Stops kube-apiserver (etcd keeps the data) and starts it again on the same port. */
  restartApiServer(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  logs: () => string,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A process that has exited will not become ready: say so at once, with its last words.
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${logs().slice(-3000)}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms:\n${logs().slice(-3000)}`);
}

function capture(child: ChildProcess): () => string {
  let text = '';
  const add = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port chosen by freePort can be taken by another process before etcd or kube-apiserver binds it. */
const PORT_TAKEN = /address already in use/;

/**
 * Starts etcd and kube-apiserver on loopback, with RBAC, static-token users, a ServiceAccount
 * issuer (TokenRequest and TokenReview work) and no controllers. Everything lives in a temp dir
 * that stop() removes. When one of the ports it chose was taken meanwhile, it starts again on
 * new ports (three attempts).
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(options);
    } catch (error) {
      if (attempt === 3 || !PORT_TAKEN.test((error as Error).message)) throw error;
    }
  }
}

export interface ControlPlaneOptions {
  /** Record the API server's audit events (ControlPlane.auditEvents). */
  readonly audit?: boolean;
  /** Where the ports come from (freePort unless a test says otherwise). */
  readonly port?: () => Promise<number>;
}

async function startControlPlaneOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const bin = controlPlaneAssets();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apiserver-'));
  const port = options.port ?? freePort;
  const [etcdClient, etcdPeer, securePort] = [await port(), await port(), await port()];
  const admin: TestUser = {
    name: 'admin',
    token: randomBytes(24).toString('hex'),
    groups: ['system:masters'],
  };
  const operatorUser: TestUser = {
    name: 'gatehouse-operator',
    token: randomBytes(24).toString('hex'),
    groups: [],
  };
  writeFileSync(
    join(dir, 'tokens.csv'),
    [admin, operatorUser].map((u) => `${u.token},${u.name},${u.name}-uid,"${u.groups.join(',')}"`).join('\n'),
  );
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(
    join(dir, 'audit-policy.yaml'),
    'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n',
  );
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const etcd = spawn(
    join(bin, 'etcd'),
    [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const etcdLogs = capture(etcd);
  let apiserver: ChildProcess | undefined;
  const abandon = async (error: unknown): Promise<never> => {
    await stopChild(apiserver);
    await stopChild(etcd);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  };
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok,
    30_000,
    'etcd',
    etcdLogs,
    etcd,
  ).catch(abandon);

  const server = `https://127.0.0.1:${securePort}`;
  const caFile = join(dir, 'certs', 'apiserver.crt');
  let apiLogs: () => string = () => '';
  const startApiServer = async (): Promise<void> => {
    const command = join(bin, 'kube-apiserver');
    const prefix = canRestorePriority ? ['-n', String(STARTING_NICENESS), command] : [];
    apiserver = spawn(
      canRestorePriority ? 'nice' : command,
      [
        ...prefix,
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${securePort}`,
        `--cert-dir=${join(dir, 'certs')}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--disable-admission-plugins=ServiceAccount',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--v=0',
        ...(options.audit
          ? [
              `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
              `--audit-log-path=${join(dir, 'audit.log')}`,
              '--audit-log-format=json',
            ]
          : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    apiLogs = capture(apiserver);
    const ca = (): Buffer => readFileSync(caFile);
    await waitFor(
      async () => {
        const probe = createConnection({ server, ca: ca(), token: admin.token });
        try {
          const { request } = await import('undici');
          const res = await request(`${server}/readyz`, {
            dispatcher: probe.dispatcher,
            headers: { authorization: `Bearer ${admin.token}` },
          });
          await res.body.text();
          return res.statusCode === 200;
        } finally {
          await probe.dispatcher.close();
        }
      },
      60_000,
      'kube-apiserver',
      () => apiLogs(),
      apiserver,
    );
    if (canRestorePriority) restorePriority(apiserver.pid);
  };
  await startApiServer().catch(abandon);

  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'admin', user: { token: admin.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
      'current-context': 'test',
    }),
  );
  const connections: KubeConnection[] = [];

  const plane: ControlPlane = {
    server,
    caFile,
    kubeconfig,
    admin,
    operatorUser,
    connection(user = admin) {
      const c = createConnection({ server, ca: readFileSync(caFile), token: user.token });
      connections.push(c);
      return c;
    },
    async kubectl(args, input) {
      const child = execFile(join(bin, 'kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], {
        encoding: 'utf8',
      });
      if (input !== undefined) child.stdin?.end(input);
      return new Promise((resolveOut, reject) => {
        let out = '';
        let err = '';
        child.stdout?.on('data', (c: string) => {
          out += c;
        });
        child.stderr?.on('data', (c: string) => {
          err += c;
        });
        child.on('exit', (code) => (code === 0 ? resolveOut(out) : reject(new Error(err || out))));
      });
    },
    auditEvents() {
      const text = readFileSync(join(dir, 'audit.log'), 'utf8');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
    },
    async podToken(namespace, serviceAccount, pod) {
      const token = await plane.kubectl([
        'create',
        'token',
        serviceAccount,
        '-n',
        namespace,
        '--audience',
        'gatehouse',
        '--bound-object-kind',
        'Pod',
        '--bound-object-name',
        pod,
        '--duration',
        '1h',
      ]);
      return token.trim();
    },
    async restartApiServer(downMs = 500) {
      await stopChild(apiserver);
      await new Promise((r) => setTimeout(r, downMs));
      await startApiServer();
    },
    async stop() {
      await Promise.all(connections.map((c) => c.dispatcher.close().catch(() => undefined)));
      await stopChild(apiserver);
      await stopChild(etcd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return plane;
}
