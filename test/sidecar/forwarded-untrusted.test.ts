import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOLD_PEERS } from '../../sidecar/src/net/untrusted-forwarders.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, openRaw, type RawClient, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { applicationYaml, startSidecarProcess, writeConfigDir } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// An ingress controller or a load balancer left out of spec.trustedProxies: its X-Forwarded-For
// was dropped without a word, so every client behind it was judged and logged as the ingress
// (ipRanges, the fair shares, clientIp in the audit). Nothing said so: the platform team learned
// it from an analyst whose audit named one address for every user.

let upstream: TestUpstream;

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
});

/** The application, with these trusted proxies; the open policy lets every request through. */
const withTrusted = (trustedProxies: string[]) =>
  testConfig({ upstream: { url: upstream.url }, trustedProxies, policies: [{ name: 'open' }] });

/** Sends requests on one connection from `from` and waits for their answers (200 each). */
async function send(gate: InProcessSidecar, from: string, heads: string[]): Promise<void> {
  const client: RawClient = await openRaw(gate.port, from);
  client.socket.write(
    heads.map((h) => `GET /x HTTP/1.1\r\nHost: localhost\r\n${h ? `${h}\r\n` : ''}\r\n`).join(''),
  );
  await eventually(
    `${heads.length} answers to ${from}`,
    () => statusesOf(client.received()).length === heads.length,
  );
  expect(statusesOf(client.received())).toEqual(heads.map(() => 200));
  client.socket.destroy();
}

async function untrustedCount(gate: InProcessSidecar): Promise<number> {
  const text = await gate.metrics.registry.metrics();
  return Number(/^gatehouse_forwarded_for_untrusted_total\{app="test-app"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('X-Forwarded-For from a peer that is not a trusted proxy', () => {
  it('is told once per peer, with what to do, and counted per request; a trusted peer and requests without the header are not', async () => {
    const gate = await startSidecar(withTrusted(['127.9.0.1/32']));
    try {
      const ingress = '127.9.0.2';
      await send(gate, ingress, ['X-Forwarded-For: 203.0.113.7', 'x-forwarded-for: 198.51.100.4', '']);
      await send(gate, ingress, ['X-FORWARDED-FOR: 203.0.113.9']);
      await send(gate, '127.9.0.1', ['X-Forwarded-For: 203.0.113.7']); // trusted: read, as it should
      await send(gate, '127.9.0.3', ['X-Real-IP: 203.0.113.7', 'Forwarded: for=203.0.113.7']);
      const told = gate.events('forwarded_for_untrusted');
      expect(told).toEqual([
        {
          type: 'forwarded_for_untrusted',
          time: expect.any(String),
          app: 'test-app',
          peerIp: ingress,
          trustedProxies: 1,
          hint: expect.stringContaining(`if ${ingress} is your ingress controller, load balancer`),
        },
      ]);
      expect(String(told[0]?.hint)).toContain('spec.trustedProxies');
      expect(await untrustedCount(gate)).toBe(3);
      // The requests themselves are as before: the untrusted peer is the client.
      const clients = gate.records().map((r) => `${r.peerIp} ${r.clientIp}`);
      expect(clients).toContain(`${ingress} ${ingress}`);
      expect(clients).toContain('127.9.0.1 203.0.113.7');
    } finally {
      await gate.close();
    }
  });

  it('a new config with the same trusted proxies (a sign-out, a policy edit) tells nobody again; other trusted proxies start over', async () => {
    const gate = await startSidecar(withTrusted([]));
    try {
      await send(gate, '127.9.1.1', ['X-Forwarded-For: 203.0.113.7']);
      gate.sidecar.install(withTrusted([]));
      await send(gate, '127.9.1.1', ['X-Forwarded-For: 203.0.113.7']);
      expect(gate.events('forwarded_for_untrusted').map((e) => e.peerIp)).toEqual(['127.9.1.1']);
      // The list changed, still without this peer (a wrong range): told again, with the count.
      gate.sidecar.install(withTrusted(['10.0.0.0/8']));
      await send(gate, '127.9.1.1', ['X-Forwarded-For: 203.0.113.7']);
      expect(gate.events('forwarded_for_untrusted').map((e) => [e.peerIp, e.trustedProxies])).toEqual([
        ['127.9.1.1', 0],
        ['127.9.1.1', 1],
      ]);
      // Listed now: read, and nothing said.
      gate.sidecar.install(withTrusted(['127.9.1.0/24']));
      await send(gate, '127.9.1.1', ['X-Forwarded-For: 203.0.113.7']);
      expect(gate.events('forwarded_for_untrusted')).toHaveLength(2);
      expect(gate.records().at(-1)?.clientIp).toBe('203.0.113.7');
      expect(await untrustedCount(gate)).toBe(3);
    } finally {
      await gate.close();
    }
  });

  it('hostile: clients that send the header from many addresses, pipelined, fill no log: at most 16 peers told, every request counted', async () => {
    const gate = await startSidecar(withTrusted([]));
    try {
      const peers = Array.from({ length: 40 }, (_, i) => `127.9.2.${i + 1}`);
      await Promise.all(
        peers.map((peer) =>
          send(
            gate,
            peer,
            Array.from({ length: 10 }, (_, i) => `X-Forwarded-For: 10.0.0.${i}`),
          ),
        ),
      );
      const told = gate.events('forwarded_for_untrusted');
      expect(told).toHaveLength(MAX_TOLD_PEERS);
      expect(new Set(told.map((e) => e.peerIp)).size).toBe(MAX_TOLD_PEERS);
      expect(await untrustedCount(gate)).toBe(400);
      expect(gate.records()).toHaveLength(400);
    } finally {
      await gate.close();
    }
  });
});

describe('the shipped sidecar', () => {
  it('says it once for the peer, as injected sidecars write their lines', async () => {
    const sidecar = await startSidecarProcess(
      writeConfigDir(applicationYaml({ hosts: ['localhost'], upstream: { url: upstream.url } })),
    );
    try {
      for (let i = 0; i < 3; i++) {
        const client = await openRaw(sidecar.port, '127.9.3.1');
        client.socket.write(
          'GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n',
        );
        await client.closed;
        expect(statusesOf(client.received())).toEqual([200]);
      }
      await sidecar.waitForLine((l) => l.type === 'request' && l.seq === 3);
      expect(sidecar.lines.filter((l) => l.type === 'forwarded_for_untrusted')).toEqual([
        expect.objectContaining({ peerIp: '127.9.3.1', trustedProxies: 0 }),
      ]);
    } finally {
      await sidecar.stop();
    }
  });
});
