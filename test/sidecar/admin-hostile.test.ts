import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dial, eventually, type RawClient, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * The admin port (/metrics, /healthz, /readyz) listens on the pod network, where any pod of the
 * cluster can reach it. The built sidecar as shipped, attacked there.
 */
let upstream: TestUpstream;
let sidecar: SidecarProcess;
const sockets: Socket[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  sidecar = await startSidecarProcess(loopbackAppDir(upstream.url));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await sidecar.stop();
  await upstream.close();
});

/** Opens `count` connections to the admin port from `from`, 100 at a time, and sends nothing. */
async function silentConnections(count: number, from: (i: number) => string): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, (_, j) => dial(sidecar.adminPort, from(i + j))),
    );
    for (const s of batch)
      if (s) {
        sockets.push(s);
        clients.push(watchSocket(s));
      }
  }
  return clients;
}

/** The status a GET gets within a second over a new connection from `from` (or what went wrong). */
async function status(port: number, path: string, from = '127.0.0.1'): Promise<number | string> {
  const socket = await dial(port, from);
  if (!socket) return 'no connection';
  const client = watchSocket(socket);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  const answered = await client.until(() => /^HTTP\/1\.1 \d{3}/.test(client.received()), 1_000);
  socket.destroy();
  if (answered) return Number(client.received().slice(9, 12));
  return client.isClosed() ? 'closed with nothing' : 'no answer within 1 s';
}

async function closedCount(reason: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${sidecar.adminPort}/metrics`, { reset: true });
  const text = await res.body.text();
  const match = new RegExp(
    `^gatehouse_admin_connections_closed_total\\{reason="${reason}"\\} (\\d+)$`,
    'm',
  ).exec(text);
  return Number(match?.[1] ?? 0);
}

const openFiles = () => readdirSync(`/proc/${sidecar.child.pid}/fd`).length;

describe('a hostile client of the admin port', () => {
  it('silent connections from one address cannot exhaust the open-file limit: traffic and probes go on', async () => {
    // A pod's limit is higher, and there the same connections ran its memory out instead (about
    // 10 KiB each): 1,000 makes the limit reachable here. Before the share, 975 of these stayed
    // open, every traffic request and probe after them was reset.
    execFileSync('prlimit', ['--pid', String(sidecar.child.pid), '--nofile=1000:1000']);
    const clients = await silentConnections(1_200, () => '127.7.0.1');
    await eventually(
      'all but the share closed',
      () => clients.filter((c) => !c.isClosed()).length <= 16,
      10_000,
    );
    expect(openFiles()).toBeLessThan(100);
    const traffic = [];
    for (let i = 0; i < 10; i++) traffic.push(await status(sidecar.port, `/after-${i}`));
    expect(traffic).toEqual(Array.from({ length: 10 }, () => 200));
    expect(await status(sidecar.adminPort, '/healthz', '127.7.9.9')).toBe(200);
    expect(await status(sidecar.adminPort, '/readyz', '127.7.9.9')).toBe(200);
    expect(await closedCount('peer_limit')).toBeGreaterThanOrEqual(1_200 - 16);
    expect(sidecar.child.exitCode).toBeNull();
  });

  it('silent connections from many addresses: a probe still gets in, by closing the one idle longest', async () => {
    const evictedBefore = await closedCount('evicted');
    const clients = await silentConnections(40 * 16, (i) => `127.7.${1 + (i % 40)}.1`);
    await sleep(200);
    expect(clients.filter((c) => !c.isClosed()).length).toBeLessThanOrEqual(256);
    const started = performance.now();
    expect(await status(sidecar.adminPort, '/readyz', '127.7.9.10')).toBe(200);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await closedCount('evicted')).toBeGreaterThan(evictedBefore);
    expect(openFiles()).toBeLessThan(400);
  });

  it('a client asking for /metrics in a loop gets 429 past 5 renders a second; others are still scraped', async () => {
    const socket = await dial(sidecar.adminPort, '127.7.60.1');
    if (!socket) throw new Error('no connection');
    sockets.push(socket);
    const client = watchSocket(socket);
    const started = performance.now();
    for (let i = 0; i < 40; i++) {
      socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await client.until(() => statusesOf(client.received()).length > i, 1_000);
    }
    const statuses = statusesOf(client.received()).map(String);
    const took = performance.now() - started;
    const rendered = statuses.filter((s) => s === '200').length;
    // Two one-second windows at most in this time, 5 renders each.
    expect(took).toBeLessThan(2_000);
    expect(rendered).toBeGreaterThanOrEqual(5);
    expect(rendered).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === '429').length).toBe(40 - rendered);
    expect(await status(sidecar.adminPort, '/metrics', '127.7.60.2')).toBe(200);
  });

  it('a connection that sends nothing, or its head a byte at a time, is closed after 5 s', async () => {
    for (const s of sockets) s.destroy();
    await sleep(200);
    const [silent, trickle] = await silentConnections(2, (i) => `127.7.50.${1 + i}`);
    if (!silent || !trickle) throw new Error('no connection');
    const head =
      'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    let at = 0;
    const drip = setInterval(() => trickle.socket.write(head[at++ % head.length] as string), 250);
    const started = performance.now();
    try {
      await Promise.all([silent.closed, trickle.closed]);
    } finally {
      clearInterval(drip);
    }
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(4_000);
    expect(took).toBeLessThan(7_500);
  });
});
