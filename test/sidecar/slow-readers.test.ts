import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRaw, sleep, statusesOf } from '../helpers/hostile.ts';
import {
  applicationYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';

// A client that reads a few bytes of a large download now and then keeps its connection from
// the idle timeout, and the response's upstream connection from everyone else for as long as
// the download lasts: a handful of such readers held the anonymous share of the upstream
// connections, and every anonymous request got 503 for as long as they went on. The built
// sidecar, as shipped, now holds a client whose response waits on it to a minimum rate over each
// idle timeout (here 5 s and 100,000 B/s, so that a test can see it; 60 s and 500 B/s by default).

const BIG_BYTES = 64 * 1024 * 1024;
let upstream: Server;
/** Paths whose responses the application saw end early (the client, or the sidecar, let go). */
const abandoned: string[] = [];
let sidecar: SidecarProcess;
let shipped: SidecarProcess;
beforeAll(async () => {
  const chunk = Buffer.alloc(1024 * 1024, 120);
  upstream = createServer((req, res) => {
    if (req.url?.startsWith('/big')) {
      res.writeHead(200, { 'content-length': String(BIG_BYTES) });
      let sent = 0;
      const pump = (): void => {
        while (sent < BIG_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => {
        if (!res.writableFinished) abandoned.push(req.url ?? '');
      });
      pump();
    } else if (req.url === '/upload') {
      // Reads the whole body before it answers: the upload holds its upstream connection meanwhile.
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.on('end', () => res.end(`received ${bytes}`));
    } else res.end('small');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  // Four upstream connections: two for anonymous requests together, one per caller.
  const dir = writeConfigDir(
    applicationYaml({
      hosts: ['127.0.0.1'],
      upstream: { url: `http://127.0.0.1:${port}`, maxConnections: 4 },
    }),
  );
  // The minimum rate alone here (the contended rate is the second sidecar's).
  sidecar = await startSidecarProcess(dir, [
    '--client-idle-timeout',
    '5s',
    '--client-send-min-rate',
    '100000',
    '--client-contended-rate',
    '0',
  ]);
  // Every client setting as shipped.
  shipped = await startSidecarProcess(dir);
});
afterAll(async () => {
  await shipped?.stop();
  await sidecar?.stop();
  await new Promise((r) => upstream?.close(r));
});

/**
 * A client from `from` that asks for `path` and then takes 4 KiB every 100 ms (40 KiB/s, under
 * the 100,000 B/s asked here): the socket is left paused, so what it does not take stays in the
 * kernel buffers on the way. Node.js refills its 64 KiB from the kernel every second or two, so
 * the connection is never silent for the idle timeout: only the rate tells it from a reader.
 */
function trickleReader(path: string, from: string, at: SidecarProcess = sidecar, keepAlive = false) {
  const socket: Socket = connect({ port: at.port, host: '127.0.0.1', localAddress: from });
  let taken = 0;
  let reset = false;
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') reset = true;
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`);
  const timer = setInterval(() => {
    const bytes = socket.read(4096) as Buffer | null;
    if (bytes) taken += bytes.length;
  }, 100);
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      clearInterval(timer);
      r();
    }),
  );
  return {
    socket,
    taken: () => taken,
    /** Reads what is left at once (a paused socket hears of a reset only when it reads), to its close. */
    async readToClose(): Promise<{ reset: boolean }> {
      clearInterval(timer);
      socket.resume();
      await closed;
      return { reset };
    },
  };
}

const lineOf = (uri: string, at: SidecarProcess = sidecar) =>
  at.waitForLine((l) => l.type === 'request' && l.uri === uri, 20_000);

/**
 * The line of a trickle reader's download, cut for its pace: under the minimum rate over the
 * idle timeout it kept the response waiting, or, on a machine too busy for the sidecar to hand
 * the kernel a write within the idle timeout (its writes complete 64 KiB at a time, and the
 * kernel takes more only once megabytes have gone on loopback), as silent for it, a moment
 * before the rate's verdict. Either way the client is cut and the line says it timed out.
 */
async function cutForItsPace(uri: string): Promise<void> {
  const line = await lineOf(uri);
  expect(line).toMatchObject({ status: 200, outcome: 'client_timeout' });
  if (line.error === null) expect(line.durationMs).toBeGreaterThanOrEqual(5_000);
  else expect(line).toMatchObject({ error: 'response_read_too_slow', errorCause: 'under_min_rate' });
}

describe('a client that takes its response at a trickle', () => {
  it('is reset once it takes less than the minimum rate over an idle timeout; the application lets go', async () => {
    const reader = trickleReader('/big/trickle', '127.0.4.1');
    // The rate's verdict, or on a busy machine the silence a moment before it (cutForItsPace);
    // test/unit/client-rate-check.test.ts holds the verdict itself to its rows.
    await cutForItsPace('/big/trickle');
    const line = await lineOf('/big/trickle');
    // The first check finds it waiting, then one idle timeout (5 s) of it; a second for slack.
    expect(line.durationMs).toBeGreaterThanOrEqual(5_000);
    expect(line.durationMs).toBeLessThan(8_000);
    // What the kernel took for it while it trickled: far from the 64 MiB.
    expect(line.bytesOut).toBeLessThan(BIG_BYTES / 2);
    expect(reader.taken()).toBeLessThan(400_000);
    expect(await reader.readToClose()).toEqual({ reset: true });
    expect(abandoned).toContain('/big/trickle');
  });

  it('a client that reads at network speed takes the whole 64 MiB under the same settings', async () => {
    const client = await openRaw(sidecar.port, '127.0.4.2');
    let bytes = 0;
    client.socket.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    client.socket.write('GET /big/fast HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await client.closed;
    expect(client.reset()).toBe(false);
    expect(bytes).toBeGreaterThan(BIG_BYTES);
    expect(await lineOf('/big/fast')).toMatchObject({ status: 200, outcome: 'served', error: null });
  });

  it('trickle readers from two addresses hold the anonymous upstream connections only until the rate cuts them: another anonymous request is served, not refused', async () => {
    const first = trickleReader('/big/hold-1', '127.0.4.3');
    const second = trickleReader('/big/hold-2', '127.0.4.4');
    // Both anonymous connections are taken once their downloads have started; the request comes
    // a moment before the readers are cut (within the 5 s idle timeout a queued request has here).
    await sleep(4_000);
    const started = Date.now();
    const waiting = await openRaw(sidecar.port, '127.0.4.5');
    waiting.socket.write('GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await waiting.closed;
    expect(statusesOf(waiting.received())).toEqual([200]);
    const line = await lineOf('/small');
    // It waited for a slot until the readers were cut.
    expect(line.durationMs).toBeGreaterThan(300);
    expect(Date.now() - started).toBeLessThan(4_000);
    for (const path of ['/big/hold-1', '/big/hold-2']) await cutForItsPace(path);
    expect(await first.readToClose()).toEqual({ reset: true });
    expect(await second.readToClose()).toEqual({ reset: true });
  });
});

describe('a trickle reader that resets, or pipelines behind its download', () => {
  it('one that resets while its response waits on it is a client abort, not a slow read; the application lets go', async () => {
    const socket = connect({ port: sidecar.port, host: '127.0.0.1', localAddress: '127.0.4.6' });
    socket.on('error', () => undefined);
    socket.write('GET /big/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sleep(1_500); // the check has found it waiting
    socket.resetAndDestroy();
    expect(await lineOf('/big/reset')).toMatchObject({ status: 200, outcome: 'client_abort', error: null });
    await expect.poll(() => abandoned).toContain('/big/reset');
  });

  it('requests pipelined behind a download taken too slowly each get their line when it is cut', async () => {
    const reader = trickleReader('/big/pipelined', '127.0.4.7', sidecar, true);
    // Its socket is paused: what it writes still goes out.
    const more = ['/pipelined-1', '/pipelined-2', '/pipelined-3'];
    for (const path of more) reader.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await cutForItsPace('/big/pipelined');
    for (const path of more) expect(await lineOf(path)).toMatchObject({ outcome: 'client_abort' });
    expect(await reader.readToClose()).toEqual({ reset: true });
  });
});

describe('readers above the minimum rate, while others wait for the upstream connections they hold (as shipped)', () => {
  it('hold them while nobody waits; give one up to a waiting request within seconds, and that request is served', async () => {
    // 40 KiB/s: 80 times the minimum rate, under the contended one (64 KiB/s).
    const first = trickleReader('/big/shipped-1', '127.0.5.1', shipped);
    const second = trickleReader('/big/shipped-2', '127.0.5.2', shipped);
    const downloads = () =>
      shipped.lines.filter((l) => l.type === 'request' && String(l.uri).startsWith('/big/shipped'));
    await sleep(7_000);
    // Nobody waited: both still download.
    expect(downloads()).toEqual([]);
    const started = Date.now();
    const waiting = await openRaw(shipped.port, '127.0.5.3');
    waiting.socket.write('GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await waiting.closed;
    expect(statusesOf(waiting.received())).toEqual([200]);
    // The next once-a-second check gave it a connection, far from the 10 s queue timeout.
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect.poll(downloads).toEqual([
      expect.objectContaining({
        status: 200,
        outcome: 'client_timeout',
        error: 'response_read_too_slow',
        errorCause: 'upstream_wanted',
      }),
    ]);
    // One connection was enough: the other reader goes on.
    await sleep(1_500);
    expect(downloads()).toHaveLength(1);
    const cutFirst = downloads()[0]?.uri === '/big/shipped-1';
    expect(await (cutFirst ? first : second).readToClose()).toEqual({ reset: true });
    expect(await (cutFirst ? second : first).readToClose()).toEqual({ reset: false });
  });

  it('a slow upload gives its connection up too: 408 body_too_slow, upstream_wanted, and the waiting request is served', async () => {
    // 600 B/s: over the body's minimum rate (500), far under the contended one.
    const uploaders = ['127.0.5.4', '127.0.5.5'].map((from) => {
      const socket = connect({ port: shipped.port, host: '127.0.0.1', localAddress: from });
      socket.on('error', () => undefined);
      socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n');
      const timer = setInterval(() => socket.write('x'.repeat(60)), 100);
      socket.once('close', () => clearInterval(timer));
      return socket;
    });
    await sleep(1_000); // both bodies stream to the application
    const waiting = await openRaw(shipped.port, '127.0.5.6');
    waiting.socket.write('GET /after-uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await waiting.closed;
    expect(statusesOf(waiting.received())).toEqual([200]);
    const served = await lineOf('/after-uploads', shipped);
    expect(served.durationMs).toBeGreaterThan(2_000); // it waited for a connection
    expect(served.durationMs).toBeLessThan(8_000); // and got one before its 10 s ran out
    const uploads = shipped.lines.filter((l) => l.type === 'request' && l.uri === '/upload');
    expect(uploads).toEqual([
      expect.objectContaining({
        status: 408,
        outcome: 'client_timeout',
        error: 'body_too_slow',
        errorCause: 'upstream_wanted',
      }),
    ]);
    for (const socket of uploaders) socket.destroy();
  });
});
