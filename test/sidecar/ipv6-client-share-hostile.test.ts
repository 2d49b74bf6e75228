import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import {
  type HostileUpstream,
  openRaw,
  type RawClient,
  sleep,
  startHostileUpstream,
} from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';

// An anonymous caller's fair share of the upstream pool is counted by client address. An IPv6
// host has a /64 of its own and may send from any address in it: counted by address, one host
// behind the ingress was as many callers as it liked, and took every anonymous slot.

let upstream: HostileUpstream;
let gate: InProcessSidecar;
const held: RawClient[] = [];

/** A request through the trusted ingress (127.0.0.1) for the client `from`. */
const viaIngress = (path: string, from: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: ${from}\r\n\r\n`;

async function slotsInUse(): Promise<number> {
  const text = await gate.metrics.registry.metrics();
  return Number(/gatehouse_upstream_slots_in_use (\d+)/.exec(text)?.[1]);
}

beforeAll(async () => {
  upstream = await startHostileUpstream();
  // 8 connections: anonymous callers together hold 4, one caller 2.
  gate = await startSidecar(
    testConfig({ upstream: { url: upstream.url, maxConnections: 8 }, trustedProxies: ['127.0.0.1'] }),
    { queueTimeoutMs: 800 },
  );
});

afterAll(async () => {
  for (const c of held) c.socket.destroy();
  await gate?.close();
  await upstream?.close();
});

describe('anonymous callers over IPv6', () => {
  it('one host sending from eight addresses of its /64 holds one caller\u2019s share; a host of another /64 is served at once', async () => {
    for (let i = 1; i <= 8; i++) {
      const client = await openRaw(gate.port);
      client.socket.write(viaIngress(`/hang?host-a-${i}`, `2001:db8:1:2::${i.toString(16)}`));
      held.push(client);
    }
    await sleep(150);
    expect(await slotsInUse()).toBe(2);
    expect(upstream.seen.filter((r) => r.url.startsWith('/hang?host-a-'))).toHaveLength(2);

    const other = await openRaw(gate.port);
    const started = performance.now();
    other.socket.write(viaIngress('/fast?host-b', '2001:db8:77::1'));
    await other.waitFor(/^HTTP\/1\.1 200/, 3_000);
    expect(performance.now() - started).toBeLessThan(500);
    other.socket.destroy();

    // The six beyond its share waited their turn and were refused with the caller's reason.
    for (const client of held.slice(2)) await client.waitFor(/^HTTP\/1\.1 503/, 3_000);
    const refused = gate
      .records()
      .filter((r) => String(r.uri).startsWith('/hang?host-a-') && r.status === 503);
    expect(refused).toHaveLength(6);
    // Each line keeps the address it came from.
    expect(new Set(refused.map((r) => r.clientIp)).size).toBe(6);
    for (const c of held) c.socket.destroy();
  });

  it('IPv4 callers still count one per address', async () => {
    const clients: RawClient[] = [];
    for (const from of ['203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2']) {
      const client = await openRaw(gate.port);
      client.socket.write(viaIngress('/hang?v4', from));
      clients.push(client);
      held.push(client);
    }
    await sleep(150);
    expect(await slotsInUse()).toBe(4);
    for (const c of clients) c.socket.destroy();
  });
});
