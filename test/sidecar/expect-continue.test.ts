import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw, type RawClient, sleep, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// Expect: 100-continue (RFC 9110 §10.1.1): the client sends its head and waits for a 100 before
// its body. Node's server sent the 100 as soon as the head arrived, before the gateway had looked
// at the request, so a request the policies refuse was still asked for its body (curl sends a
// body of more than 1 MiB this way). The sidecar now sends it where the body is read: when the
// request is dispatched upstream, or when a gateway route reads it.

let upstream: TestUpstream;
let gate: InProcessSidecar;
let releaseSlow: (() => void) | undefined;
const bodies: string[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/public/slow') {
      releaseSlow = () => res.end('slow');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('latin1'));
      res.end(`ok ${req.url}`);
    });
  });
  gate = await startSidecar(
    testConfig(
      { upstream: { url: upstream.url, maxConnections: 2 }, policies: [{ name: 'public' }] },
      { public: { decision: 'bypass', include: [{ paths: ['/public/**'] }] } },
    ),
    { bodyTimeoutMs: 1_000 },
  );
});
afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  releaseSlow?.();
  await gate.close();
  await upstream.close();
});

const head = (path: string, length: number): string =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;

async function expectingContinue(path: string, length: number): Promise<RawClient> {
  const client = await openRaw(gate.port);
  clients.push(client);
  client.socket.write(head(path, length));
  return client;
}

const CONTINUE = /^HTTP\/1\.1 100 Continue\r\n\r\n/;

describe('Expect: 100-continue', () => {
  it('a request the policies refuse gets its answer without a 100, and its connection closes: its body is never asked for', async () => {
    const seen = upstream.seen.length;
    const before = gate.records().length;
    const client = await expectingContinue('/admin/upload', 1_000_000);
    await client.waitFor(/^HTTP\/1\.1 403/);
    expect(client.received()).not.toMatch(/100 Continue/);
    expect(client.received()).toMatch(/^connection: close\r$/im);
    expect(await client.until(() => client.isClosed(), 2_000)).toBe(true);
    expect(upstream.seen.length).toBe(seen);
    const line = (await gate.waitForRecords(before + 1)).at(-1);
    expect(line).toMatchObject({ status: 403, outcome: 'denied', uri: '/admin/upload' });
    expect(line?.bytesIn).toBe(head('/admin/upload', 1_000_000).length);
  });

  it('an allowed request gets its 100 when it is dispatched upstream, not while it waits for a slot; its body then goes upstream whole', async () => {
    const before = gate.records().length;
    const slow = await openRaw(gate.port);
    clients.push(slow);
    slow.socket.write('GET /public/slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await slow.until(() => releaseSlow !== undefined, 2_000);
    // The anonymous half of the two slots is held: this one waits, longer than the body timeout.
    const client = await expectingContinue('/public/upload', 10);
    await sleep(1_500);
    expect(client.received()).toBe('');
    releaseSlow?.();
    releaseSlow = undefined;
    await client.waitFor(CONTINUE);
    client.socket.write('0123456789');
    await client.waitFor(/ok \/public\/upload$/);
    expect(statusesOf(client.received())).toEqual([100, 200]);
    expect(bodies.at(-1)).toBe('0123456789');
    const lines = await gate.waitForRecords(before + 2);
    expect(lines.find((l) => l.uri === '/public/upload')).toMatchObject({
      status: 200,
      bytesIn: head('/public/upload', 10).length + 10,
    });
    // The connection stays open for the next request.
    client.socket.write('GET /public/next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await client.waitFor(/ok \/public\/next$/);
  });

  it('a client that goes silent after its 100, or trickles its body, is cut by the body clock (408)', async () => {
    const silent = await expectingContinue('/public/silent', 10);
    await silent.waitFor(CONTINUE);
    await silent.waitFor(/^HTTP\/1\.1 408/m, 5_000);
    expect(silent.received()).toMatch(/body_too_slow/);

    const trickler = await expectingContinue('/public/trickle', 10);
    await trickler.waitFor(CONTINUE);
    const drip = setInterval(() => trickler.socket.writable && trickler.socket.write('x'), 600);
    try {
      await trickler.waitFor(/^HTTP\/1\.1 408/m, 5_000);
    } finally {
      clearInterval(drip);
    }
    expect(trickler.received()).toMatch(/body_too_slow/);
  });

  it.each([
    ['resets (RST)', (c: RawClient) => c.socket.resetAndDestroy()],
    ['half-closes (FIN)', (c: RawClient) => c.socket.end()],
  ])(
    'a client that %s while it waits in line for its 100 never reaches the upstream, and gets its line',
    async (_, leave) => {
      const slow = await openRaw(gate.port);
      clients.push(slow);
      slow.socket.write('GET /public/slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await slow.until(() => releaseSlow !== undefined, 2_000);
      const seen = upstream.seen.length;
      const before = gate.records().length;
      const leaver = await expectingContinue('/public/leaver', 10);
      await sleep(300);
      leave(leaver);
      const line = (await gate.waitForRecords(before + 1)).at(-1);
      expect(line).toMatchObject({ uri: '/public/leaver', status: 499, outcome: 'client_abort' });
      releaseSlow?.();
      releaseSlow = undefined;
      await slow.waitFor(/slow$/);
      expect(upstream.seen.slice(seen).map((s) => s.url)).toEqual([]);
    },
  );

  it('one waiting for its 100 when the shutdown grace ends is cut with its line, and never reaches the upstream', async () => {
    let hold: (() => void) | undefined;
    const app = await startUpstream((_req, res) => {
      hold = () => res.end('late');
    });
    const stopping = await startSidecar(testConfig({ upstream: { url: app.url, maxConnections: 2 } }, {}), {
      bodyTimeoutMs: 1_000,
    });
    const slow = await openRaw(stopping.port);
    clients.push(slow);
    slow.socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await slow.until(() => hold !== undefined, 2_000);
    const waiting = await openRaw(stopping.port);
    clients.push(waiting);
    waiting.socket.write(head('/upload', 10));
    await sleep(200);
    const started = performance.now();
    await stopping.sidecar.shutdown(1_000);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(await waiting.until(() => waiting.isClosed(), 1_000)).toBe(true);
    expect(waiting.received()).not.toMatch(/100 Continue/);
    expect(app.seen.map((r) => r.url)).toEqual(['/slow']);
    const line = stopping.records().find((l) => l.uri === '/upload');
    // Its wait ends with the grace: refused as busy, or gone with its connection, whichever comes first.
    expect([499, 503]).toContain(line?.status);
    hold?.();
    await app.close();
  });
});
