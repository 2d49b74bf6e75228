import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigHub } from '../../operator/src/delivery/config-hub.ts';
import {
  createDeliveryServer,
  DELIVERY_CONNECTIONS_PER_PEER,
  DELIVERY_HANDSHAKE_TIMEOUT_MS,
  DELIVERY_HEADERS_TIMEOUT_MS,
  DELIVERY_OPENS_PER_PEER,
} from '../../operator/src/delivery/delivery-server.ts';
import { createOperatorMetrics } from '../../operator/src/operator-metrics.ts';
import { dial, eventually, type RawClient, watchSocket } from '../helpers/hostile.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

/** The operator's delivery port (config streams, session ends, JWKS, the injection webhook) on loopback. */
const metrics = createOperatorMetrics({
  queueDepth: () => 0,
  applicationsByReady: () => ({}),
  podsWithoutSidecar: () => new Map(),
  servicesPastSidecar: () => new Map(),
  appPortsOpen: () => new Map(),
});
const delivery = createDeliveryServer({
  tls: selfSignedCertificate(),
  hub: new ConfigHub(),
  verify: async () => {
    throw new Error('no sidecar in this test');
  },
  metrics,
});
let port = 0;
const clients: RawClient[] = [];

beforeAll(async () => {
  await new Promise<void>((r) => delivery.server.listen(0, '127.0.0.1', r));
  port = (delivery.server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  await new Promise((r) => {
    delivery.server.once('close', r);
    delivery.close();
  });
});

async function silent(count: number, from: string): Promise<RawClient[]> {
  const opened: RawClient[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => dial(port, from)));
    for (const s of batch)
      if (s) {
        const c = watchSocket(s);
        clients.push(c);
        opened.push(c);
      }
  }
  return opened;
}

/** Connects from `from` and tries a TLS handshake: whether it completed or the connection was cut. */
async function handshake(from: string): Promise<'handshake' | 'cut'> {
  const tcp = await dial(port, from);
  if (!tcp) return 'cut';
  return new Promise((resolve) => {
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false }, () => {
      socket.destroy();
      resolve('handshake');
    });
    socket.once('error', () => resolve('cut'));
    socket.once('close', () => resolve('cut'));
  });
}

function refused(text: string, reason: string): number {
  const line = new RegExp(
    `^gatehouse_operator_delivery_connections_refused_total\\{reason="${reason}"\\} (\\d+)$`,
    'm',
  );
  return Number(line.exec(text)?.[1] ?? 0);
}

/** A TLS client from `from` that completed its handshake. */
async function tlsClient(from: string): Promise<TLSSocket> {
  const tcp = await dial(port, from);
  if (!tcp) throw new Error(`no connection from ${from}`);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('the delivery port against clients that say nothing', () => {
  it(`one address holds ${DELIVERY_CONNECTIONS_PER_PEER} connections; the rest are closed on accept and counted, others are served`, async () => {
    const opened = await silent(DELIVERY_CONNECTIONS_PER_PEER + 44, '127.13.0.1');
    await eventually(
      'the share held, the rest closed',
      () => opened.filter((c) => !c.isClosed()).length === DELIVERY_CONNECTIONS_PER_PEER,
      5_000,
    );
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^gatehouse_operator_delivery_connections_refused_total\{reason="share"\} 44$/m);
    const other = await tlsClient('127.13.0.2');
    const answer = new Promise<string>((resolve) => {
      let got = '';
      other.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.includes('no such application')) resolve(got);
      });
    });
    other.write('GET /v1/jwks/ns/app HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 404/);
    other.destroy();
    for (const c of opened) c.socket.destroy();
  });

  it(`one address opening connections in a loop gets ${DELIVERY_OPENS_PER_PEER.burst} handshakes, then ${DELIVERY_OPENS_PER_PEER.perSecond} a second; the rest are reset on accept, others are served`, async () => {
    const { burst, perSecond } = DELIVERY_OPENS_PER_PEER;
    const attempts = burst + 400;
    const outcomes: Array<'handshake' | 'cut'> = [];
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < attempts) {
          next++;
          outcomes.push(await handshake('127.13.2.1'));
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const handshakes = outcomes.filter((o) => o === 'handshake').length;
    const cut = attempts - handshakes;
    expect(handshakes).toBeGreaterThanOrEqual(burst);
    expect(handshakes).toBeLessThanOrEqual(burst + Math.ceil(perSecond * seconds) + 1);
    expect(cut).toBeGreaterThan(0);
    expect(refused(await metrics.registry.metrics(), 'rate')).toBe(cut);
    // Another address is served meanwhile, and this one gets handshakes again as its rate refills.
    expect(await handshake('127.13.2.2')).toBe('handshake');
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await Promise.all(Array.from({ length: 8 }, () => handshake('127.13.2.1')));
    expect(again.filter((o) => o === 'handshake').length).toBe(8);
  }, 30_000);

  it('a connection without a TLS handshake, or without a request after it, is closed after 10 s', async () => {
    const [noHello] = await silent(1, '127.13.1.1');
    const noRequest = await tlsClient('127.13.1.2');
    const noRequestClosed = new Promise<void>((r) => noRequest.once('close', () => r()));
    noRequest.on('error', () => undefined);
    const started = performance.now();
    await Promise.all([noHello?.closed, noRequestClosed]);
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(
      Math.min(DELIVERY_HANDSHAKE_TIMEOUT_MS, DELIVERY_HEADERS_TIMEOUT_MS) - 1_000,
    );
    expect(took).toBeLessThan(Math.max(DELIVERY_HANDSHAKE_TIMEOUT_MS, DELIVERY_HEADERS_TIMEOUT_MS) + 2_500);
  }, 30_000);
});
