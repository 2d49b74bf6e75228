// What the in-progress lines cost other requests: the built sidecar (as the image runs it) holds
// `--tunnels` open WebSockets (from 8 loopback addresses; the application answers the handshake
// and then stays quiet) while a client sends one request every 5 ms for `--duration`; its
// latencies are compared between `--in-progress-interval 0s` (no lines) and `--interval` (each
// tunnel gets a line each interval), in interleaved rounds. The lines are written to a file and
// counted.
//
//   npm run build && node bench/in-progress-sweep.ts [--tunnels 2000] [--interval 1s] [--duration 6s] [--rounds 2]

import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../lib/duration.ts';
import { freePort, stopChild, waitFor200 } from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '2000' },
    interval: { type: 'string', default: '1s' },
    duration: { type: 'string', default: '6s' },
    rounds: { type: 'string', default: '2' },
  },
});
const TUNNELS = Number(values.tunnels);
const DURATION_MS = parseDurationMs(values.duration);
const ROUNDS = Number(values.rounds);
if (
  !Number.isInteger(TUNNELS) ||
  TUNNELS < 1 ||
  TUNNELS > 4_000 ||
  DURATION_MS === undefined ||
  !(ROUNDS >= 1)
) {
  console.error('bench: --tunnels: 1 to 4000; --duration: a duration; --rounds: 1 or more');
  process.exit(2);
}

const application = createServer((_req, res) => res.end('ok'));
application.on('upgrade', (_req, socket: Socket) => {
  socket.on('error', () => undefined);
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
});
await new Promise<void>((resolve) => application.listen(0, '127.0.0.1', resolve));
const appPort = (application.address() as { port: number }).port;
const dir = join(tmpdir(), `gatehouse-in-progress-${process.pid}`);
mkdirSync(dir, { recursive: true });
const configPath = join(dir, 'app.yaml');
writeFileSync(
  configPath,
  `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata:\n  name: sweep\nspec:\n  hosts: ['127.0.0.1']\n  upstream: {url: 'http://127.0.0.1:${appPort}'}\n  policies: [{name: open}]\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: open\nspec:\n  decision: bypass\n  include: [{everyone: true}]\n`,
);

const UPGRADE =
  'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** Opens the tunnels, 100 at a time; resolves with those that got their 101. */
async function openTunnels(port: number): Promise<Socket[]> {
  const open: Socket[] = [];
  for (let i = 0; i < TUNNELS; i += 100) {
    const batch = Array.from({ length: Math.min(100, TUNNELS - i) }, (_, j) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: `127.52.0.${1 + ((i + j) % 8)}` });
      socket.on('error', () => undefined);
      return new Promise<Socket | null>((resolve) => {
        socket.once('connect', () => socket.write(UPGRADE));
        socket.once('data', (d: Buffer) =>
          resolve(d.toString('latin1').startsWith('HTTP/1.1 101') ? socket : null),
        );
        socket.once('close', () => resolve(null));
      });
    });
    for (const s of await Promise.all(batch)) if (s) open.push(s);
  }
  return open;
}

/** One request every 5 ms for DURATION_MS; the latencies in ms, sorted. */
async function probe(port: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + (DURATION_MS as number);
  while (performance.now() < end) {
    const began = performance.now();
    await new Promise<void>((resolve) =>
      request({ port, host: '127.0.0.1', path: '/page', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      })
        .on('error', () => resolve())
        .end(),
    );
    latencies.push(performance.now() - began);
    await new Promise((r) => setTimeout(r, 5));
  }
  return latencies.sort((a, b) => a - b);
}

const at = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
const rows: string[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const interval of ['0s', values.interval]) {
    const port = await freePort();
    const log = join(dir, `lines-${round}-${interval}.log`);
    const fd = openSync(log, 'w');
    const sidecar = spawnBuiltSidecar(configPath, port, {
      configFlags: [
        '--config',
        configPath,
        '--in-progress-interval',
        interval,
        '--max-client-tunnels',
        '4096',
      ],
      stdout: fd,
    });
    await waitFor200(`http://127.0.0.1:${port}/page`);
    const tunnels = await openTunnels(port);
    const latencies = await probe(port);
    const lines = readFileSync(log, 'utf8').split('\n');
    const inProgress = lines.filter((l) => l.includes('"type":"request_in_progress"')).length;
    rows.push(
      `| ${round + 1} | ${interval} | ${tunnels.length} | ${latencies.length} | ${at(latencies, 0.5).toFixed(2)} | ${at(latencies, 0.99).toFixed(2)} | ${(latencies.at(-1) ?? 0).toFixed(2)} | ${inProgress} |`,
    );
    for (const t of tunnels) t.destroy();
    await stopChild(sidecar);
    closeSync(fd);
  }
}
console.log(
  `\n${TUNNELS} tunnels asked for, a request every 5 ms for ${values.duration}\n\n| round | --in-progress-interval | tunnels open | requests | p50 ms | p99 ms | max ms | in-progress lines |\n|---|---|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}`,
);
application.close();
process.exit(0);
