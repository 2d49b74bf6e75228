// What one client of the operator's delivery port can make the operator hold and spend. The
// operator's delivery server (this checkout's, or `--against` another checkout's sources) runs in
// a child process with one application whose config carries `--revocations` session ends (8,000:
// 1.27 MB, the most sign-outs may record). From one loopback address:
//   held:   `--streams` config streams with one Pod's token, opened and never read; the child's
//           anonymous memory and the send queues of its connections (/proc/net/tcp), 3 s after
//           the last one;
//   loops:  16 clients opening a stream with one Pod's token, leaving 20 ms later, again, for 8 s;
//   hellos: 2 and 16 clients replaying one TLS ClientHello on new connections, each reset once
//           the operator answers it (its key share and signature made), for 8 s: no token, and
//           next to no CPU for the client.
// In loops and hellos: the child's CPU and the clients' own (/proc), and how long a revocation
// published every 200 ms takes to reach another sidecar's stream meanwhile.
//
//   node bench/delivery-port-hostile.ts [--revocations 8000] [--streams 250] [--against CHECKOUT]

import './bench-tmpdir.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as tcpServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { sessionEndRevocation } from './session-end-revocation.ts';

const { values } = parseArgs({
  options: {
    revocations: { type: 'string', default: '8000' },
    streams: { type: 'string', default: '250' },
    against: { type: 'string' },
    serve: { type: 'string' }, // the child: the checkout whose delivery server it runs
    publish: { type: 'boolean', default: false }, // the child: a revocation every 200 ms
  },
});
const REVOCATIONS = Number(values.revocations);
const STREAMS = Number(values.streams);
if (
  !Number.isInteger(REVOCATIONS) ||
  REVOCATIONS < 0 ||
  REVOCATIONS > 10_000 ||
  !(STREAMS >= 1 && STREAMS <= 255)
) {
  console.error('bench: --revocations: 0 to 10000; --streams: 1 to 255 (connections one address may hold)');
  process.exit(2);
}

/** The child: a delivery server whose every token is a Pod of one application; prints its port. */
async function serve(root: string): Promise<void> {
  const { ConfigHub } = await import(join(root, 'operator/src/delivery/config-hub.ts'));
  const { createDeliveryServer } = await import(join(root, 'operator/src/delivery/delivery-server.ts'));
  const { createOperatorMetrics } = await import(join(root, 'operator/src/operator-metrics.ts'));
  const { selfSignedCertificate } = await import(join(root, 'test/helpers/tls.ts'));
  const hub = new ConfigHub();
  const revocations = Array.from({ length: REVOCATIONS }, (_, i) => sessionEndRevocation(i));
  hub.publish('bench/app', { generation: '0123456789abcdef', revocations }, '{}');
  const delivery = createDeliveryServer({
    tls: selfSignedCertificate(),
    hub,
    metrics: createOperatorMetrics({ queueDepth: () => 0, applicationsByReady: () => ({}) }),
    verify: async (token: string) => ({
      namespace: 'bench',
      application: 'app',
      pod: `app-${token}`,
      podUid: `uid-${token}`,
      expiresAt: undefined,
    }),
  });
  // A revocation every 200 ms, named after when it was published.
  const published: object[] = [];
  if (values.publish)
    setInterval(() => {
      published.push({
        name: `t-${Date.now()}`,
        user: 'x@example.com',
        subject: null,
        provider: null,
        before: 1_790_000_000,
      });
      hub.publishRevocations('bench/app', [...revocations, ...published]);
    }, 200);
  // Gone with its parent, however that ends.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
  delivery.server.listen(0, '127.0.0.1', () =>
    console.log(JSON.stringify({ port: (delivery.server.address() as { port: number }).port })),
  );
}

async function startChild(root: string, publish: boolean): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      import.meta.filename,
      '--serve',
      root,
      '--revocations',
      String(REVOCATIONS),
      '--streams',
      String(STREAMS),
      ...(publish ? ['--publish'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const first = await new Promise<string>((r) => child.stdout?.once('data', (c) => r(String(c))));
  return { child, port: (JSON.parse(first) as { port: number }).port };
}

/** A TLS stream from `from` with `token`, or null when refused at connect. */
async function openStream(port: number, from: string, token: string): Promise<TLSSocket | null> {
  const tcp = tcpConnect({ port, host: '127.0.0.1', localAddress: from });
  tcp.on('error', () => undefined);
  const connected = await new Promise<boolean>((r) => {
    tcp.once('connect', () => r(true));
    tcp.once('close', () => r(false));
  });
  if (!connected) return null;
  return new Promise((r) => {
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false }, () => {
      socket.write(
        `GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer ${token}\r\nx-gatehouse-stream-accepts: revocations-changed\r\n\r\n`,
      );
      r(socket);
    });
    socket.on('error', () => r(null));
  });
}

function anonMiB(pid: number): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** What the send queues of the server's connections hold, in MiB, and how many connections. */
function sendQueues(port: number): { connections: number; mib: number } {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let connections = 0;
  let bytes = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (!local?.endsWith(hex) || state === '0A') continue;
    connections++;
    bytes += Number.parseInt(queues?.split(':')[0] ?? '0', 16);
  }
  return { connections, mib: bytes / 2 ** 20 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function held(root: string): Promise<string> {
  const { child, port } = await startChild(root, false);
  const pid = child.pid as number;
  await sleep(1_500);
  const before = anonMiB(pid);
  const streams: TLSSocket[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const socket = await openStream(port, '127.52.0.1', 'one-pod');
    if (!socket) continue;
    socket.pause();
    streams.push(socket);
  }
  await sleep(3_000);
  const queues = sendQueues(port);
  const line = `${STREAMS} streams asked: operator ${before.toFixed(0)} → ${anonMiB(pid).toFixed(0)} MiB anonymous, ${queues.connections} connections (streams, and those answered 429), ${queues.mib.toFixed(0)} MiB in send queues`;
  for (const socket of streams) socket.destroy();
  child.kill();
  return line;
}

/**
 * Another sidecar's stream, which reads `revocations-changed`: how long each revocation the child
 * publishes takes to reach it, from `start()` on; `summary()` says the median and the longest.
 */
async function revocationReader(port: number): Promise<{ start(): void; summary(): string; stop(): void }> {
  const reader = await openStream(port, '127.52.0.2', 'reader');
  const delays: number[] = [];
  let tail = '';
  reader?.on('data', (c: Buffer) => {
    tail += c.toString('latin1');
    for (const m of tail.matchAll(/"t-(\d+)"/g)) delays.push(Date.now() - Number(m[1]));
    tail = tail.slice(-40);
  });
  return {
    start: () => {
      delays.length = 0;
    },
    summary: () => {
      delays.sort((a, b) => a - b);
      return `a revocation reached another sidecar in ${delays[Math.floor(delays.length / 2)] ?? '-'} ms (median), ${delays.at(-1) ?? '-'} ms at most`;
    },
    stop: () => reader?.destroy(),
  };
}

function ownCpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * Runs `clients` loops of `attempt` against a child that publishes a revocation every 200 ms, for
 * 8 s; says what `attempt` counted, the child's CPU and this process's (the loops'), and how long
 * the revocations took to reach another sidecar meanwhile.
 */
async function underLoops(
  root: string,
  clients: number,
  attempt: (port: number) => Promise<void>,
  counted: () => string,
): Promise<string> {
  const { child, port } = await startChild(root, true);
  const pid = child.pid as number;
  const reader = await revocationReader(port);
  await sleep(2_000);
  reader.start();
  const cpuBefore = cpuMs(pid);
  const ownBefore = process.cpuUsage();
  const end = performance.now() + 8_000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) await attempt(port);
    }),
  );
  const cpu = cpuMs(pid) - cpuBefore;
  const own = ownCpuMs(ownBefore);
  reader.stop();
  child.kill();
  return `${counted()}; operator CPU ${(cpu / 1000).toFixed(1)} s, the loops' ${(own / 1000).toFixed(1)} s; ${reader.summary()}`;
}

function loops(root: string): Promise<string> {
  let opened = 0;
  let answered200 = 0;
  return underLoops(
    root,
    16,
    async (port) => {
      const socket = await openStream(port, '127.52.0.1', 'one-pod');
      if (!socket) return;
      opened++;
      socket.once('data', (c: Buffer) => {
        if (c.toString('latin1').startsWith('HTTP/1.1 200')) answered200++;
      });
      await sleep(20);
      socket.destroy();
    },
    () => `16 stream loops, 8 s: ${opened} streams asked, ${answered200} served`,
  );
}

/** The first flight of a TLS handshake as Node's client sends it (its ClientHello), captured once. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const capture = tcpServer((socket) =>
      socket.once('data', (hello: Buffer) => {
        resolve(hello);
        socket.destroy();
        capture.close();
      }),
    );
    capture.listen(0, '127.0.0.1', () => {
      const { port } = capture.address() as { port: number };
      tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }).on('error', () => undefined);
    });
  });
}

async function hellos(root: string, clients: number): Promise<string> {
  const hello = await clientHello();
  let answered = 0;
  let cut = 0;
  return underLoops(
    root,
    clients,
    (port) =>
      new Promise<void>((done) => {
        const socket = tcpConnect({ port, host: '127.0.0.1', localAddress: '127.52.0.3' });
        socket.once('connect', () => socket.write(hello));
        socket.once('data', () => {
          answered++;
          socket.resetAndDestroy();
          done();
        });
        socket.once('error', () => {
          cut++;
          done();
        });
        socket.once('close', () => done());
      }),
    () => `${clients} ClientHello loops, 8 s: ${answered} answered, ${cut} cut on accept`,
  );
}

async function measure(): Promise<void> {
  const roots = [
    { name: 'this checkout', root: resolve(import.meta.dirname, '..') },
    ...(values.against ? [{ name: values.against, root: resolve(values.against) }] : []),
  ];
  for (const { name, root } of roots) {
    console.log(`${name}: ${await held(root)}`);
    console.log(`${name}: ${await loops(root)}`);
    for (const clients of [2, 16]) console.log(`${name}: ${await hellos(root, clients)}`);
  }
  process.exit(0);
}

if (values.serve !== undefined) await serve(values.serve);
else await measure();
