/**
 * Pipelined floods against the built sidecar as shipped: each connection sends one request the
 * upstream never answers (the hostile upstream's `/hang`), then `--requests` more pipelined
 * behind it, and never reads. Reports the sidecar's RSS at rest and at its peak, how long until it
 * holds none of the connections (at most 30 s), and what it holds then (requests in flight,
 * upstream slots and line), the requests it dropped unhandled, and its request lines. `--dist` runs another build's `dist/` instead.
 *
 *   npm run build && node bench/pipelining-flood.ts [--connections 100] [--requests 20000] [--addresses 1] [--dist <dir>]
 */
import './bench-tmpdir.ts';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHostileUpstream } from '../test/helpers/hostile.ts';
import {
  applicationYaml,
  GATEHOUSE_BIN,
  startSidecarProcess,
  writeConfigDir,
} from '../test/helpers/sidecar-process.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '100' },
    requests: { type: 'string', default: '20000' },
    addresses: { type: 'string', default: '1' },
    dist: { type: 'string' },
  },
});
const connections = Number(values.connections);
const requests = Number(values.requests);
const addresses = Math.max(1, Number(values.addresses));
const bin = values.dist ? join(values.dist, 'bin/gatehouse.js') : GATEHOUSE_BIN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const upstream = await startHostileUpstream();
const sidecar = await startSidecarProcess(
  writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: upstream.url } })),
  [],
  {},
  [bin],
);
const pid = sidecar.child.pid as number;
const rssMiB = (): number => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
};
async function metric(name: string): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
  return new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? '-';
}

await sleep(500);
const rest = rssMiB();
let peak = rest;
const sampler = setInterval(() => {
  peak = Math.max(peak, rssMiB());
}, 20);
const one = 'GET /more HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const batch = `GET /hang HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${one.repeat(requests)}`;
const sockets: Socket[] = [];
for (let c = 0; c < connections; c++) {
  const i = c % addresses;
  const socket = connect({
    port: sidecar.port,
    host: '127.0.0.1',
    localAddress: `127.11.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  });
  socket.on('error', () => undefined);
  await new Promise((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  socket.pause(); // never reads
  socket.write(batch);
  sockets.push(socket);
}
// Until the sidecar holds no client connection (it has read and closed every flood), or 30 s.
const sent = performance.now();
let cleared: number | null = null;
while (performance.now() - sent < 30_000) {
  await sleep(250);
  if (Number(await metric('gatehouse_client_connections')) === 0) {
    cleared = performance.now() - sent;
    break;
  }
}
clearInterval(sampler);
await sleep(1_100); // the admin port renders /metrics at most 5 times a second per address
const row = {
  connections,
  'requests each': requests + 1,
  addresses,
  'RSS at rest (MiB)': rest.toFixed(0),
  'RSS peak (MiB)': peak.toFixed(0),
  'all closed after (s)': cleared === null ? 'not in 30 s' : (cleared / 1000).toFixed(1),
  'client connections then': await metric('gatehouse_client_connections'),
  'requests in flight': await metric('gatehouse_requests_in_flight'),
  'upstream slots held': await metric('gatehouse_upstream_slots_in_use'),
  'in line for the upstream': await metric('gatehouse_upstream_queue_length'),
  'dropped unhandled': await metric('gatehouse_client_requests_discarded_total'),
  'request lines': sidecar.lines.filter((l) => l.type === 'request').length,
};
for (const s of sockets) s.destroy();
console.log(`| ${Object.keys(row).join(' | ')} |`);
console.log(
  `|${Object.keys(row)
    .map(() => '---:')
    .join('|')}|`,
);
console.log(`| ${Object.values(row).join(' | ')} |`);
sidecar.child.kill('SIGKILL');
await upstream.close();
process.exit(0);
