// What the PROXY protocol costs the sidecar per connection: the built sidecar as shipped (its
// NODE_OPTIONS, pinned to core 0 in the injected container's memory limit) with
// spec.proxyProtocol.from naming 127.0.0.2, and clients on this process's core that open a new
// connection per request (as clients behind a layer-4 load balancer do: each of theirs is one of
// the balancer's), send one GET and read the answer to the close. Rounds alternate: from
// 127.0.0.1 with no header, and from 127.0.0.2 behind a version 2 header with no extension and
// with the extension AWS sends behind PrivateLink (its endpoint id: read, logged and told to the
// application). The sidecar's CPU (from /proc) per connection, medians of the rounds.
//
//   npm run build && taskset -c 1 node bench/proxy-protocol-cost.ts [--connections 3000] [--rounds 6] [--concurrency 16]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { awsEndpointTlv, proxyV2For } from '../test/helpers/proxy-headers.ts';
import {
  children,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  startUpstreamOnLoadCore,
  stopChild,
  waitFor200,
} from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '16' },
  },
});
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);

/** A version 2 header for 203.0.113.7, with the extension AWS sends (its endpoint id), or none. */
const awsHeader = (): Buffer => proxyV2For('203.0.113.7', awsEndpointTlv('vpce-08d2bf15fac5001c9'));
const plainHeader = (): Buffer => proxyV2For('203.0.113.7');
const REQUEST = Buffer.from('GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');

/** One connection: connect from `from`, send, read to the close; resolves with whether it got a 200. */
function oneConnection(port: number, from: string, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    let head = '';
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      if (head.length < 12) head += c.toString('latin1', 0, 12);
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(head.startsWith('HTTP/1.1 200')));
  });
}

async function round(port: number, from: string, bytes: Buffer): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < CONNECTIONS) {
      next++;
      if (!(await oneConnection(port, from, bytes))) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-protocol-bench-'));
try {
  const upstream = await startUpstreamOnLoadCore();
  const application = {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessApplication',
    metadata: { name: 'bench' },
    spec: {
      hosts: ['127.0.0.1'],
      upstream: { url: upstream.url },
      proxyProtocol: { from: ['127.0.0.2/32'] },
      policies: [{ name: 'everyone' }],
    },
  };
  const policy = {
    apiVersion: 'gatehouse.dev/v1alpha1',
    kind: 'AccessPolicy',
    metadata: { name: 'everyone' },
    spec: { decision: 'bypass', include: [{ everyone: true }] },
  };
  writeFileSync(join(dir, 'app.yaml'), `${stringify(application)}---\n${stringify(policy)}`);
  const port = await freePort();
  const sidecar = spawnBuiltSidecar(dir, port, { pin: { core: 0, memory: injectedMemoryGroup() } });
  children.add(sidecar);
  await waitFor200(`http://127.0.0.1:${port}/bench`);
  const pid = sidecar.pid as number;
  const modes = [
    { name: 'no header (127.0.0.1)', from: '127.0.0.1', bytes: REQUEST },
    {
      name: 'PROXY v2 header (127.0.0.2)',
      from: '127.0.0.2',
      bytes: Buffer.concat([plainHeader(), REQUEST]),
    },
    {
      name: 'PROXY v2 header with an AWS endpoint id (127.0.0.2)',
      from: '127.0.0.2',
      bytes: Buffer.concat([awsHeader(), REQUEST]),
    },
  ];
  for (const mode of modes) await round(port, mode.from, mode.bytes); // warm-up
  const perConnection = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  let failures = 0;
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      const before = cpuTicks(pid);
      failures += await round(port, mode.from, mode.bytes);
      const us = ((cpuTicks(pid) - before) / HZ) * 1e6;
      perConnection.get(mode.name)?.push(us / CONNECTIONS);
    }
  await stopChild(sidecar);
  process.stdout.write(
    `\nnode ${process.version}; ${ROUNDS} rounds of ${CONNECTIONS} connections, ${CONCURRENCY} at once; one GET per connection\n\n`,
  );
  process.stdout.write('| sidecar CPU per connection (median) | µs |\n|---|---:|\n');
  for (const [name, values] of perConnection)
    process.stdout.write(`| ${name} | ${median(values).toFixed(1)} |\n`);
  process.stdout.write(`\nfailed connections: ${failures}\n`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
