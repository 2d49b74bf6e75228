import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dial, type RawClient, sleep, watchSocket } from '../helpers/hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * A pod whose open-file limit is below --max-connections (12,000 by default) and what the sidecar
 * needs besides: the built sidecar started under an open-file limit of 2,048.
 */
const LIMIT = 2_048;
let upstream: TestUpstream;
let sidecar: SidecarProcess;
const sockets: Socket[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  sidecar = await startSidecarProcess(loopbackAppDir(upstream.url), [], {}, undefined, [
    'prlimit',
    `--nofile=${LIMIT}:${LIMIT}`,
    '--',
  ]);
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await sidecar.stop();
  await upstream.close();
});

/** The status a GET gets within 2 s from `client` (or what went wrong). */
async function get(client: RawClient, port: number, path: string): Promise<number | string> {
  const before = client.received().length;
  client.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const answered = await client.until(() => /HTTP\/1\.1 \d{3}/.test(client.received().slice(before)), 2_000);
  if (answered) return Number(/HTTP\/1\.1 (\d{3})/.exec(client.received().slice(before))?.[1]);
  return client.isClosed() ? `closed with nothing (port ${port})` : 'no answer within 2 s';
}

async function connect(port: number, from: string): Promise<RawClient> {
  const socket = await dial(port, from);
  if (!socket) throw new Error(`no connection from ${from}`);
  sockets.push(socket);
  return watchSocket(socket);
}

describe('an open-file limit below --max-connections', () => {
  it('holds fewer client connections, says so once at start, and keeps descriptors for the upstream and the probes', async () => {
    const capped = sidecar.lines.filter((l) => l.type === 'max_connections_capped');
    expect(capped).toHaveLength(1);
    expect(capped[0]).toMatchObject({
      requested: 12_000,
      effective: LIMIT - LIMIT / 4,
      openFileLimit: LIMIT,
    });
    expect(String(capped[0]?.hint)).toContain('--max-connections=1536');

    const kept = await connect(sidecar.port, '127.9.0.1');
    expect(await get(kept, sidecar.port, '/before')).toBe(200);
    // More connections than the limit, sending nothing. Before the cap, the sidecar accepted
    // them until it had no descriptor left: new clients and probes were reset.
    for (let i = 0; i < 2_100; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) => dial(sidecar.port, `127.9.${1 + ((i + j) % 50)}.1`)),
      );
      for (const s of batch)
        if (s) {
          s.on('error', () => undefined);
          sockets.push(s);
        }
    }
    await sleep(300);
    expect(readdirSync(`/proc/${sidecar.child.pid}/fd`).length).toBeLessThan(LIMIT - 256);
    // A slow request holds its upstream connection while others need new ones.
    const slow = await connect(sidecar.port, '127.9.60.1');
    slow.socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const fresh = await connect(sidecar.port, '127.9.61.1');
    expect(await get(fresh, sidecar.port, '/fresh')).toBe(200);
    expect(kept.isClosed()).toBe(true); // idle longest: it made room for the first of the crowd
    const probe = await connect(sidecar.adminPort, '127.9.62.1');
    expect(await get(probe, sidecar.adminPort, '/readyz')).toBe(200);
    expect(sidecar.child.exitCode).toBeNull();
  });
});
