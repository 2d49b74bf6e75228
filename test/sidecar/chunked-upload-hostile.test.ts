import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, openRaw, sleep } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A chunked request body in 1-byte chunks: Node.js hands on each chunk as it parses it, and the
// sidecar wrote each to the application as a chunk of its own (a system call each, 51,372 for
// 200,000 bytes), so the application parsed as many. The chunks of one turn of the event loop go
// on as one now (sidecar/src/http/coalesced-body.ts); what comes alone still goes on at once,
// and a client that resets, closes or falls silent mid-body ends its request as before.

/** What the application saw of one request body. */
interface SeenBody {
  chunks: number;
  bytes: number;
  complete: boolean;
  aborted: boolean;
}

const seen = new Map<string, SeenBody>();
const heldRequests: IncomingMessage[] = [];
let slot: ServerResponse | undefined;
let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream((req: IncomingMessage, res) => {
    if (req.url === '/held') {
      req.pause(); // reads nothing for now
      heldRequests.push(req);
      return;
    }
    if (req.url === '/slot') {
      slot = res; // holds the only upstream connection of the second sidecar until ended
      return;
    }
    if (req.url === '/dribble') {
      res.writeHead(200);
      const timer = setInterval(() => res.write('z'), 10);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const body: SeenBody = { chunks: 0, bytes: 0, complete: false, aborted: false };
    seen.set(req.url ?? '', body);
    req.on('data', (chunk: Buffer) => {
      body.chunks++;
      body.bytes += chunk.length;
    });
    req.on('end', () => {
      body.complete = true;
      res.end(`got ${body.bytes}`);
    });
    req.on('close', () => {
      if (!body.complete) body.aborted = true;
    });
  });
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), {
    bodyTimeoutMs: 600,
    bodyMinRate: 100_000,
  });
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

const head = (path: string) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`;
const tinyChunks = (n: number) => '1\r\nx\r\n'.repeat(n);
const linesFor = (uri: string) => gate.records().filter((r) => r.uri === uri);

describe('a chunked body faster than the application reads', () => {
  it('is held back at the client: the sidecar takes in a bounded amount, not the whole upload', async () => {
    const client = await openRaw(gate.port);
    client.socket.on('error', () => undefined);
    client.socket.write(head('/held'));
    // 16 KiB every millisecond, each alone in its read, as 8 small chunks: joined into a batch
    // shorter than 64 KiB, which goes on at the end of its turn (a full batch, or a large chunk,
    // goes on at once, where back-pressure always held).
    const chunk = Buffer.from(`800\r\n${'y'.repeat(0x800)}\r\n`.repeat(8));
    const pump = setInterval(() => {
      if (client.socket.writableLength === 0) client.socket.write(chunk);
    }, 1);
    await sleep(3_000);
    clearInterval(pump);
    // What left the client sits in the kernel's buffers (about 10 MB on loopback) and the
    // sidecar's few batches; without back-pressure the sidecar took in all of it (about 45 MB).
    expect(client.socket.bytesWritten).toBeLessThan(20 * 1024 * 1024);
    client.socket.destroy();
    for (const req of heldRequests) req.destroy();
  });
});

describe('a chunked body in 1-byte chunks', () => {
  it('reaches the application whole, in a few chunks instead of one per byte', async () => {
    const client = await openRaw(gate.port);
    // The head and a first chunk: once the application has them, the body streams through
    // (what waits for undici's new connection is taken in one piece, as before).
    client.socket.write(`${head('/tiny')}${tinyChunks(1)}`);
    await eventually('the first byte at the application', () => seen.get('/tiny')?.bytes === 1, 2_000);
    client.socket.write(`${tinyChunks(19_999)}0\r\n\r\n`);
    await client.waitFor(/got 20000/);
    client.socket.destroy();
    const body = seen.get('/tiny');
    expect(body).toMatchObject({ bytes: 20_000, complete: true });
    // One chunk per read of the client's socket at most (140 kB arrive in a few reads).
    expect(body?.chunks).toBeLessThan(50);
    await eventually('its line', () => linesFor('/tiny').length === 1);
    expect(linesFor('/tiny')[0]).toMatchObject({ status: 200, outcome: 'served' });
  });

  it('trickled, each chunk goes on before the next is sent: nothing waits for company', async () => {
    const client = await openRaw(gate.port);
    client.socket.write(head('/trickle'));
    for (let n = 1; n <= 5; n++) {
      client.socket.write('1\r\nx\r\n');
      await eventually(`byte ${n} at the application`, () => seen.get('/trickle')?.bytes === n, 500);
      await sleep(30);
    }
    client.socket.write('0\r\n\r\n');
    await client.waitFor(/got 5/);
    client.socket.destroy();
    expect(seen.get('/trickle')?.chunks).toBe(5);
  });

  it.each([
    ['a reset (RST)', (c: { socket: { resetAndDestroy(): void } }) => c.socket.resetAndDestroy()],
    ['a FIN', (c: { socket: { end(): void } }) => c.socket.end()],
  ])('cut by %s mid-body: the application request is aborted, one client_abort line', async (what, cut) => {
    const path = `/cut-${what.includes('RST') ? 'rst' : 'fin'}`;
    const client = await openRaw(gate.port);
    client.socket.write(`${head(path)}${tinyChunks(10_000)}`);
    await eventually('the body under way at the application', () => (seen.get(path)?.bytes ?? 0) > 0, 2_000);
    cut(client as never);
    await eventually('the application request aborted', () => seen.get(path)?.aborted === true, 2_000);
    await eventually('its line', () => linesFor(path).length === 1, 2_000);
    expect(linesFor(path)[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
    expect(seen.get(path)?.complete).toBe(false);
  });

  it('falling silent mid-body: 408 body_too_slow after the body timeout, the application request aborted', async () => {
    const client = await openRaw(gate.port);
    client.socket.write(`${head('/silent')}${tinyChunks(1_000)}`);
    await client.waitFor(/HTTP\/1\.1 408/, 3_000);
    await eventually('the application request aborted', () => seen.get('/silent')?.aborted === true, 2_000);
    expect(seen.get('/silent')).toMatchObject({ bytes: 1_000, complete: false });
    await eventually('its line', () => linesFor('/silent').length === 1, 2_000);
    expect(linesFor('/silent')[0]).toMatchObject({ status: 408, error: 'body_too_slow' });
    client.socket.destroy();
  });
});

describe('small chunks while queued for the upstream, and at shutdown', () => {
  let single: InProcessSidecar;
  beforeAll(async () => {
    single = await startSidecar(testConfig({ upstream: { url: upstream.url, maxConnections: 1 } }), {
      queueTimeoutMs: 5_000,
    });
  });
  afterAll(async () => {
    slot?.destroy();
    await single?.close();
  });
  const linesOf = (uri: string) => single.records().filter((r) => r.uri === uri);

  it('a body sent whole while its request waits for the only connection arrives whole and joined; one reset while waiting never reaches the application', async () => {
    const holder = await openRaw(single.port);
    holder.socket.write('GET /slot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await eventually('the only connection held', () => slot !== undefined, 2_000);
    const queued = await openRaw(single.port);
    queued.socket.write(`${head('/queued')}${tinyChunks(5_000)}0\r\n\r\n`);
    const leaver = await openRaw(single.port);
    leaver.socket.write(`${head('/queued-rst')}${tinyChunks(100)}`);
    await sleep(200);
    expect(seen.has('/queued')).toBe(false);
    leaver.socket.resetAndDestroy();
    await eventually('the leaver line', () => linesOf('/queued-rst').length === 1, 2_000);
    expect(linesOf('/queued-rst')[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
    slot?.end('done');
    await queued.waitFor(/got 5000/, 3_000);
    expect(seen.get('/queued')).toMatchObject({ bytes: 5_000, complete: true });
    expect(seen.get('/queued')?.chunks).toBeLessThan(50);
    expect(seen.has('/queued-rst')).toBe(false);
    holder.socket.destroy();
    queued.socket.destroy();
  });

  it('a shutdown mid-answer, with an upload queued behind it, ends within its grace, one line each', async () => {
    const reader = await openRaw(single.port);
    reader.socket.write('GET /dribble HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await reader.waitFor(/z\r\n1\r\nz/, 2_000);
    // The only connection is the answer's: this upload waits, its small chunks sent.
    const uploader = await openRaw(single.port);
    uploader.socket.write(`${head('/stopped-upload')}${tinyChunks(100)}`);
    await sleep(100);
    const started = performance.now();
    await single.sidecar.shutdown(1_000);
    expect(performance.now() - started).toBeLessThan(2_500);
    await Promise.all([uploader.closed, reader.closed]);
    expect(linesOf('/stopped-upload')).toHaveLength(1);
    expect(linesOf('/dribble')).toHaveLength(1);
    expect(seen.has('/stopped-upload')).toBe(false);
  });
});
