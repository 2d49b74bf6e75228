import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, openRaw, sleep } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// An application answering in tiny chunks: Node.js frames and writes each chunk of a response on
// its own, and the sidecar wrote each as it came (about 300 ms of its CPU per 200,000 1-byte
// chunks, a chunk frame each for the client). Small chunks of one turn of the event loop go out
// joined now (sidecar/src/http/coalesced-body.ts); a chunk that comes alone still goes at once,
// a client that reads nothing still holds the application back, and one that resets still ends
// the exchange.

let upstream: TestUpstream;
let gate: InProcessSidecar;
/** The answers of /flood: how many bytes the application got written so far. */
let flooded = 0;
const streams = new Map<string, ServerResponse>();

beforeAll(async () => {
  upstream = await startUpstream((req: IncomingMessage, res) => {
    const path = req.url ?? '';
    if (path === '/tiny') {
      // 20,000 chunks of one byte, framed by hand and written at once.
      req.socket.write(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${'1\r\nx\r\n'.repeat(20_000)}0\r\n\r\n`,
      );
      req.socket.end();
    } else if (path === '/flood') {
      // 1 KiB chunks for as long as the client's side takes them.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024, 122);
      const more = (): void => {
        while (!res.destroyed) {
          flooded += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
      };
      more();
    } else {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      streams.set(path, res);
    }
  });
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), { idleTimeoutMs: 60_000 });
});
afterAll(async () => {
  for (const res of streams.values()) res.destroy();
  await gate?.close();
  await upstream?.close();
});

/** The chunk sizes of a chunked body as the client received it (head included in `raw`). */
function chunkSizes(raw: string): number[] {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const sizes: number[] = [];
  for (let at = 0; at < body.length; ) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(body.slice(at, lineEnd), 16);
    sizes.push(size);
    if (size === 0) break;
    at = lineEnd + 2 + size + 2;
  }
  return sizes;
}

const linesFor = (uri: string) => gate.records().filter((r) => r.uri === uri);

/** Asks for an event stream (half-closing first when asked) and waits for its opening. */
async function openStream(path: string, halfClose = false) {
  const client = await openRaw(gate.port);
  client.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  if (halfClose) client.socket.end();
  await client.waitFor(/: open/);
  return { client, stream: streams.get(path) as ServerResponse };
}

describe('an answer in 1-byte chunks', () => {
  it('reaches the client whole, in a few chunks instead of one per byte', async () => {
    const client = await openRaw(gate.port);
    client.socket.write('GET /tiny HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await client.closed;
    const sizes = chunkSizes(client.received());
    expect(sizes.at(-1)).toBe(0);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(20_000);
    expect(sizes.length).toBeLessThan(50);
    await eventually('its line', () => linesFor('/tiny').length === 1);
    expect(linesFor('/tiny')[0]).toMatchObject({ status: 200, outcome: 'served' });
  });

  it('streamed, each event reaches the client before the next is sent', async () => {
    const { client, stream } = await openStream('/events');
    for (let n = 1; n <= 5; n++) {
      stream.write(`data: ${n}\n\n`);
      await client.waitFor(new RegExp(`data: ${n}\\n\\n`), 500);
      await sleep(30);
    }
    stream.end();
    client.socket.destroy();
  });

  it('a client that reads nothing holds the application back: it writes a bounded amount', async () => {
    const client = await openRaw(gate.port);
    client.socket.write('GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    client.socket.pause();
    await sleep(2_000);
    // The kernel's buffers on both sides and the sidecar's few batches; without back-pressure
    // the application's 1 KiB chunks went on at the speed of loopback.
    expect(flooded).toBeGreaterThan(0);
    expect(flooded).toBeLessThan(24 * 1024 * 1024);
    client.socket.destroy();
  });

  it('a client that half-closes (FIN) after its request still gets the whole answer, small chunks and all', async () => {
    const { client, stream } = await openStream('/fin', true);
    for (let n = 0; n < 1_000; n++) stream.write('y');
    stream.end();
    await client.closed;
    const sizes = chunkSizes(client.received());
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(': open\n\n'.length + 1_000);
    await eventually('its line', () => linesFor('/fin').length === 1, 2_000);
    expect(linesFor('/fin')[0]).toMatchObject({ status: 200, outcome: 'served' });
  });

  it('a client that resets mid-answer ends the exchange: one client_abort line', async () => {
    const { client, stream } = await openStream('/reset');
    for (let n = 0; n < 100; n++) stream.write('x');
    client.socket.resetAndDestroy();
    await eventually('its line', () => linesFor('/reset').length === 1, 2_000);
    expect(linesFor('/reset')[0]).toMatchObject({ status: 200, outcome: 'client_abort' });
    await eventually('the application side closed', () => stream.destroyed || stream.writableEnded, 2_000);
  });
});
