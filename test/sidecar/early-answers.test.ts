import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw, type RawClient, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// An application may answer an upload before it has read it (413, 401, a redirect, or a plain
// 200 from an endpoint that ignores bodies), or fail while reading it. undici then destroyed the
// request stream it was reading, the client connection's parser stopped, and the client stalled
// in the middle of its upload until the keep-alive timeout closed the connection (65 s; curl
// reported the 200 after 66 s). The rest of the body is now read and dropped, held to the body's
// rate, and the connection serves the next request.

let upstream: TestUpstream;
let gate: InProcessSidecar;
const clients: RawClient[] = [];

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/reset') {
      req.once('data', () => (req.socket as Socket).resetAndDestroy());
      return;
    }
    // Answers at once, reads nothing.
    res.writeHead(req.url === '/too-large' ? 413 : 200, { 'content-length': '2' });
    res.end('no');
  });
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), { bodyTimeoutMs: 2_000 });
});
afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  await gate.close();
  await upstream.close();
});

const MIB = 1024 * 1024;

/**
 * Sends a head and a body of `bytes` as fast as the connection takes it, with a Content-Length
 * or in chunks; resolves when it is all written.
 */
async function upload(
  path: string,
  bytes: number,
  framing: 'length' | 'chunked' = 'length',
): Promise<{ client: RawClient; sent: Promise<number> }> {
  const client = await openRaw(gate.port);
  clients.push(client);
  const declared = framing === 'length' ? `Content-Length: ${bytes}` : 'Transfer-Encoding: chunked';
  client.socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\n${declared}\r\n\r\n`);
  const raw = Buffer.alloc(64 * 1024, 0x61);
  const framed = (data: Buffer) =>
    framing === 'length'
      ? data
      : Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
  const sent = (async () => {
    let written = 0;
    while (written < bytes && !client.socket.destroyed) {
      const piece = raw.subarray(0, Math.min(raw.length, bytes - written));
      written += piece.length;
      if (!client.socket.write(framed(piece))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            client.socket.off('drain', done).off('close', done);
            resolve();
          };
          client.socket.once('drain', done).once('close', done);
        });
      }
    }
    if (framing === 'chunked' && !client.socket.destroyed) client.socket.write('0\r\n\r\n');
    return written;
  })();
  return { client, sent };
}

describe('an upload the application answers before reading it, or fails while reading', () => {
  it.each([
    ['a 200 that ignores the body', '/ignored', 200, 'length'],
    ['a 200 that ignores a chunked body', '/ignored', 200, 'chunked'],
    ['a 413', '/too-large', 413, 'length'],
    ['a reset mid-body (502)', '/reset', 502, 'length'],
  ] as const)(
    '%s: the client sends the rest at once, and its connection serves the next request',
    async (_, path, status, framing) => {
      const started = performance.now();
      const { client, sent } = await upload(path, 20 * MIB, framing);
      await client.waitFor(/^HTTP\/1\.1 \d{3}/, 5_000);
      expect(statusesOf(client.received())[0]).toBe(status);
      const written = await Promise.race([sent, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
      expect(written).toBe(20 * MIB);
      client.socket.write('GET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      await client.waitFor(/HTTP\/1\.1 200[\s\S]*no$/, 5_000);
      expect(performance.now() - started).toBeLessThan(5_000);
      const lines = gate.records().filter((l) => l.uri === path);
      expect(lines.at(-1)).toMatchObject({ status });
    },
  );

  it.each([
    ['goes silent', (_c: RawClient) => undefined],
    ['half-closes (FIN)', (c: RawClient) => c.socket.end()],
    ['resets (RST)', (c: RawClient) => c.socket.resetAndDestroy()],
  ])(
    'a client that %s while the rest is read and dropped loses only its connection, within the body timeout; one line',
    async (_, leave) => {
      const before = gate.records().length;
      const client = await openRaw(gate.port);
      clients.push(client);
      client.socket.write('POST /ignored HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n');
      client.socket.write(Buffer.alloc(40_000, 0x61));
      await client.waitFor(/^HTTP\/1\.1 200/, 5_000);
      leave(client);
      expect(await client.until(() => client.isClosed(), 4_000)).toBe(true);
      const lines = gate.records().slice(before);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ uri: '/ignored', status: 200 });
      const next = await openRaw(gate.port);
      clients.push(next);
      next.socket.write('GET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      await next.waitFor(/HTTP\/1\.1 200[\s\S]*no$/, 5_000);
    },
  );

  it('a client that trickles the rest after the early answer is cut by the body rate', async () => {
    const client = await openRaw(gate.port);
    clients.push(client);
    client.socket.write('POST /ignored HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n');
    client.socket.write(Buffer.alloc(40_000, 0x61));
    await client.waitFor(/^HTTP\/1\.1 200/, 5_000);
    const drip = setInterval(() => client.socket.writable && client.socket.write('x'), 500);
    try {
      expect(await client.until(() => client.isClosed(), 8_000)).toBe(true);
    } finally {
      clearInterval(drip);
    }
  });
});
