import { mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFdSink, type LogSink } from '../../lib/log/log-sink.ts';
import { createSidecarMetrics } from '../../sidecar/src/metrics/metrics.ts';
import { createSidecar, type Sidecar } from '../../sidecar/src/server.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, openRaw, sleep } from '../helpers/hostile.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// While stdout does not take the log (a stalled reader), the sink's queue passes its high-water
// mark and the server holds new requests until it drains. Clients that reset, close or go silent
// while held must cost one line each and nothing more; the requests held answer once the log
// moves again, and the bytes written are whole lines.

let upstream: TestUpstream;
let sidecar: Sidecar;
let sink: LogSink;
let port: number;
let logPath: string;
let stalled = true;
const heldWrites: (() => void)[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  logPath = join(mkdtempSync(join(tmpdir(), 'gatehouse-log-congestion-')), 'out.log');
  const fd = openSync(logPath, 'w');
  sink = createFdSink({
    fd,
    highWaterBytes: 4096,
    batchMs: 0,
    writeFn: (target, buffer, offset, length, _position, callback) => {
      const write = () => callback(null, writeSync(target, buffer, offset, length));
      if (stalled) heldWrites.push(write);
      else process.nextTick(write);
    },
  });
  sidecar = createSidecar({ sink, metrics: createSidecarMetrics() });
  sidecar.install(testConfig({ upstream: { url: upstream.url } }));
  port = (await sidecar.listen(0, '127.0.0.1')).port;
});
afterAll(async () => {
  stalled = false;
  for (const write of heldWrites.splice(0)) write();
  await sidecar?.shutdown(2000);
  await upstream?.close();
});

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

describe('requests held while the log is congested', () => {
  it('a held client that resets, closes or goes silent costs one line; the rest answer once the log moves', async () => {
    // Polite requests until the sink is congested (the first write never completes).
    let sent = 0;
    while (!sink.congested) {
      const client = await openRaw(port);
      client.socket.write(GET(`/fill/${sent}`));
      await client.waitFor(/HTTP\/1\.1 200/);
      client.socket.destroy();
      sent++;
      expect(sent).toBeLessThan(200);
    }
    const held = await openRaw(port);
    held.socket.write(GET('/held'));
    const reset = await openRaw(port);
    reset.socket.write(GET('/reset'));
    const closed = await openRaw(port);
    closed.socket.write(GET('/closed'));
    const silent = await openRaw(port);
    silent.socket.write('GET /silent HTTP/1.1\r\nHost: 127.0'); // half a head, then nothing
    // Held: no answer while the log stays stalled.
    expect(await held.until(() => held.received() !== '', 300)).toBe(false);
    reset.socket.resetAndDestroy();
    closed.socket.end();
    await sleep(100);

    stalled = false;
    for (const write of heldWrites.splice(0)) write();
    await held.waitFor(/HTTP\/1\.1 200/);
    await sink.flush();

    const lines = () =>
      readFileSync(logPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; uri?: string; outcome?: string; requestId?: string });
    // Every filling request, the held one, the reset one and the closed one: one line each.
    await eventually(
      'a line for every request',
      () => lines().filter((l) => l.type === 'request').length >= sent + 3,
    );
    await sink.flush();
    const requests = lines().filter((l) => l.type === 'request');
    const uris = requests.map((l) => l.uri);
    for (let i = 0; i < sent; i++) expect(uris.filter((u) => u === `/fill/${i}`)).toHaveLength(1);
    for (const uri of ['/held', '/reset', '/closed']) expect(uris.filter((u) => u === uri)).toHaveLength(1);
    expect(new Set(requests.map((l) => l.requestId)).size).toBe(requests.length);
    expect(requests.find((l) => l.uri === '/held')?.outcome).toBe('served');
    expect(readFileSync(logPath, 'utf8').endsWith('\n')).toBe(true);

    // The sidecar goes on serving.
    const after = await openRaw(port);
    after.socket.write(GET('/after'));
    await after.waitFor(/HTTP\/1\.1 200/);
    for (const c of [held, silent, after]) c.socket.destroy();
  });
});

describe('requests in progress while the log is congested', () => {
  const STREAMS = 20;
  const INTERVAL_MS = 20;
  let streams: TestUpstream;
  let open: Sidecar;
  let openSink: LogSink;
  let openLog: string;
  let held = false;
  const heldHere: (() => void)[] = [];
  const release = () => {
    held = false;
    for (const write of heldHere.splice(0)) write();
  };

  beforeAll(async () => {
    // Every request is a stream the application never ends: one chunk, then nothing.
    streams = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
    });
    openLog = join(mkdtempSync(join(tmpdir(), 'gatehouse-log-in-progress-')), 'out.log');
    const fd = openSync(openLog, 'w');
    openSink = createFdSink({
      fd,
      highWaterBytes: 4096,
      batchMs: 0,
      writeFn: (target, buffer, offset, length, _position, callback) => {
        const write = () => callback(null, writeSync(target, buffer, offset, length));
        if (held) heldHere.push(write);
        else process.nextTick(write);
      },
    });
    open = createSidecar({
      sink: openSink,
      metrics: createSidecarMetrics(),
      inProgressIntervalMs: INTERVAL_MS,
    });
    open.install(testConfig({ upstream: { url: streams.url } }));
  });
  afterAll(async () => {
    release();
    await open?.shutdown(500);
    await streams?.close();
  });

  const inProgressLines = () =>
    readFileSync(openLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"request_in_progress"'))
      .map((l) => JSON.parse(l) as { time: string; requestId: string });

  it(`${STREAMS} streams open while the reader stalls for a second: their in-progress lines do not pile up in memory, and come again once it reads`, async () => {
    const openPort = (await open.listen(0, '127.0.0.1')).port;
    const clients = [];
    for (let i = 0; i < STREAMS; i++) {
      const client = await openRaw(openPort);
      client.socket.write(GET(`/stream/${i}`));
      await client.waitFor(/data: hello/);
      clients.push(client);
    }
    await eventually(
      'in-progress lines while the log reads',
      () => inProgressLines().length >= STREAMS,
      2_000,
    );

    held = true;
    const stalledAt = Date.now();
    await eventually('the log congested', () => openSink.congested, 2_000);
    await sleep(1_000); // 50 intervals
    const releasedAt = Date.now();
    release();
    await eventually('the log drained', () => !openSink.congested, 2_000);
    const during = inProgressLines().filter((l) => {
      const at = Date.parse(l.time);
      return at >= stalledAt && at < releasedAt;
    });
    // What was queued when the reader stalled, up to the high-water mark: a few sweeps, not fifty.
    expect(during.length).toBeLessThanOrEqual(3 * STREAMS);
    await eventually(
      'in-progress lines again after the log drained',
      () => inProgressLines().filter((l) => Date.parse(l.time) >= releasedAt).length >= STREAMS,
      2_000,
    );
    for (const c of clients) c.socket.destroy();
  });
});
