// What clients that read nothing leave in the kernel's buffers of a sidecar. The built sidecar (as
// the image runs it) stands in front of an application that answers GET /download with 64 MiB and
// sends on every WebSocket as fast as it is taken; `--clients` clients, from 8 loopback addresses,
// each ask for a download (or open a WebSocket) and read nothing. Each sidecar (this build, and
// `--against` another build's dist/ when given) is read from /proc/net/tcp: its client
// connections, what their send queues hold, and how many of them are closed but still waiting
// with their queues (FIN-WAIT-1), two seconds after the clients came and twice the client idle
// timeout and three seconds after (`--idle-timeout`, the sidecar's `--client-idle-timeout`; 60 s
// by default: the timeout counts from each connection's last byte sent, which comes at different
// times as the kernel's buffers fill).
//
//   node bench/unread-answers.ts [--clients 64] [--idle-timeout 5s] [--against DIST]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../lib/duration.ts';
import { feed } from '../test/helpers/hostile.ts';
import { children, freePort, stopChild, waitFor200 } from './process-measures.ts';
import { BUILT_DIST, spawnBuiltSidecar } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    'idle-timeout': { type: 'string', default: '5s' },
    against: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const IDLE_MS = parseDurationMs(values['idle-timeout']);
if (
  !Number.isInteger(CLIENTS) ||
  CLIENTS < 1 ||
  CLIENTS > 2_000 ||
  IDLE_MS === undefined ||
  IDLE_MS < 1_000
) {
  console.error('bench: --clients: a whole number from 1 to 2000; --idle-timeout: a duration of 1s or more');
  process.exit(2);
}

const CHUNK = Buffer.alloc(64 * 1024, 7);
const DOWNLOAD_CHUNKS = 1024; // 64 MiB

async function startApplication(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, { 'content-length': String(DOWNLOAD_CHUNKS * CHUNK.length) });
      feed(res, CHUNK, DOWNLOAD_CHUNKS);
    } else res.end('ok');
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    feed(socket, CHUNK);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** The sidecar's connections to its clients, as /proc/net/tcp has them. */
function clientConnections(port: number): { open: number; closing: number; queuedMiB: number } {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let open = 0;
  let closing = 0;
  let queued = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    // Its connections from the clients' addresses, 127.51.0.0/16 (the address is hex, least
    // significant byte first): not its listener, nor the readiness check's.
    if (!local?.endsWith(hex) || !remote?.split(':')[0]?.endsWith('337F')) continue;
    if (state === '04') closing++;
    else open++;
    queued += Number.parseInt(queues?.split(':')[0] ?? '0', 16);
  }
  return { open, closing, queuedMiB: queued / 2 ** 20 };
}

/** Clients from 8 loopback addresses that send `request` and then read nothing. */
async function stalledClients(port: number, request: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.51.0.${1 + (i % 8)}` });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(request);
    socket.pause();
    sockets.push(socket);
  }
  return sockets;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const application = await startApplication();
const configDir = join(tmpdir(), `gatehouse-unread-${process.pid}`);
const configPath = join(configDir, 'app.yaml');
mkdirSync(configDir, { recursive: true });
writeFileSync(
  configPath,
  `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata:\n  name: unread\nspec:\n  hosts: ['127.0.0.1']\n  upstream: {url: 'http://127.0.0.1:${application.port}'}\n  policies: [{name: open}]\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: open\nspec:\n  decision: bypass\n  include: [{everyone: true}]\n`,
);

const SCENARIOS = [
  { name: `${CLIENTS} downloads of 64 MiB`, request: 'GET /download HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' },
  {
    name: `${CLIENTS} WebSockets the application sends on`,
    request:
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  },
];
const builds = [
  { name: 'this build', dist: BUILT_DIST },
  ...(values.against ? [{ name: values.against, dist: values.against }] : []),
];
const rows: string[] = [];
const cell = (c: ReturnType<typeof clientConnections>) =>
  `${c.open} open, ${c.closing} closing, ${c.queuedMiB.toFixed(0)} MiB`;
for (const scenario of SCENARIOS) {
  for (const build of builds) {
    const port = await freePort();
    const sidecar = spawnBuiltSidecar(configPath, port, {
      dist: build.dist,
      configFlags: ['--config', configPath, '--client-idle-timeout', `${IDLE_MS}ms`],
    });
    children.add(sidecar);
    await waitFor200(`http://127.0.0.1:${port}/`);
    const clients = await stalledClients(port, scenario.request);
    await sleep(2_000);
    const held = clientConnections(port);
    await sleep(2 * IDLE_MS + 1_000);
    const after = clientConnections(port);
    rows.push(`| ${scenario.name} | ${build.name} | ${cell(held)} | ${cell(after)} |`);
    console.error(rows.at(-1));
    for (const socket of clients) socket.destroy();
    await stopChild(sidecar);
    for (const socket of application.sockets) socket.destroy();
  }
}
application.server.close();
console.log(
  `\n| clients that read nothing | sidecar | their connections 2 s after they came | ${(2 * IDLE_MS) / 1000 + 3} s after (client idle timeout ${IDLE_MS / 1000} s) |\n|---|---|---|---|\n${rows.join('\n')}`,
);
process.exit(0);
