import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SIDECAR_NODE_OPTIONS } from '../../contract/sidecar-node-options.ts';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import { testConfig } from '../helpers/fixtures.ts';
import {
  eventually,
  feed,
  type HostileUpstream,
  kernelSendQueue,
  openRaw,
  type RawClient,
  sleep,
  startHostileUpstream,
  statusesOf,
  upgradeRequest,
} from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import {
  applicationYaml,
  loopbackAppDir,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Numbers refer to the findings of the hostile-client review (docs/sidecar.md, "Hostile clients"). */

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

function linesFor(s: InProcessSidecar, uri: string) {
  return s.records().filter((r) => r.uri === uri);
}

/**
 * An application whose WebSockets send 64 KiB chunks as fast as they are taken (a path starting
 * /ws-quiet: a WebSocket that sends nothing); its upgraded sockets, and how to close it.
 */
async function webSocketApp(): Promise<{ url: string; sockets: Set<Socket>; close(): Promise<void> }> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const app = createServer((_req, res) => res.end('ok'));
  const sockets = new Set<Socket>();
  app.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    if (!req.url?.startsWith('/ws-quiet')) feed(socket, chunk);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(app.address() as { port: number }).port}`,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => app.close(resolve));
    },
  };
}

/**
 * A WebSocket whose client reads everything as it comes and counts it, from `from`; `read()` is
 * the count so far.
 */
async function countingWebSocket(port: number, from: string, path: string) {
  const client = await openRaw(port, from);
  let read = 0;
  client.socket.removeAllListeners('data'); // counts what it reads instead of keeping it
  client.socket.on('data', (c: Buffer) => {
    read += c.length;
  });
  client.socket.write(upgradeRequest(path));
  return { client, read: () => read };
}

/**
 * Makes a client take at most `bytes` every `everyMs` of what reaches it (the rest waits in its
 * socket and the kernel): a trickle. Clear the interval returned to stop.
 */
function trickle(client: RawClient, bytes: number, everyMs: number): NodeJS.Timeout {
  client.socket.removeAllListeners('data');
  client.socket.pause();
  return setInterval(() => {
    const n = Math.min(bytes, client.socket.readableLength);
    if (n > 0 && !client.socket.destroyed) client.socket.read(n);
  }, everyMs);
}

describe('1: a reset at any point of an upgrade never ends the process', () => {
  for (const upgradeDelayMs of [0, 150]) {
    it(`RST before the upstream's 101 (${upgradeDelayMs ? 'slow' : 'fast'} handshake), and after a pipelined request`, async () => {
      const upstream = await startHostileUpstream({ upgradeDelayMs });
      const proc = await startSidecarProcess(loopbackAppDir(upstream.url));
      try {
        for (let i = 0; i < 25; i++) {
          const client = await openRaw(proc.port);
          client.socket.write(upgradeRequest('/ws'));
          await sleep(i % 5);
          client.socket.resetAndDestroy();
          const piped = await openRaw(proc.port);
          piped.socket.write(GET('/slow') + upgradeRequest('/ws'));
          await sleep(i % 2 === 0 ? 5 : 320);
          piped.socket.resetAndDestroy();
        }
        await sleep(500);
        expect(proc.child.exitCode).toBeNull();
        expect(proc.stderr()).not.toMatch(/Unhandled|ECONNRESET|EPIPE/);
        const res = await request(`http://127.0.0.1:${proc.port}/after`);
        expect(res.statusCode).toBe(200);
        await res.body.text();
      } finally {
        await proc.stop();
        await upstream.close();
      }
    });
  }
});

describe('in-process data path under hostile clients', () => {
  let upstream: HostileUpstream;
  let gate: InProcessSidecar;
  const token = newServiceToken();

  beforeAll(async () => {
    upstream = await startHostileUpstream({ upgradeDelayMs: 50 });
    gate = await startSidecar(
      testConfig({
        upstream: { url: upstream.url, maxConnections: 4 },
        authentication: { serviceTokens: { tokens: [{ id: 'ci-bot', secretHash: token.secretHash }] } },
      }),
      { bodyTimeoutMs: 1_500, bodyMinRate: 500, queueTimeoutMs: 800, headersTimeoutMs: 1_000 },
    );
  });
  afterAll(async () => {
    clearInterval(readSlots);
    await gate.close();
    await upstream.close();
  });
  afterEach(async () => {
    // Every test leaves the pool as it found it: no slot held, nobody queued.
    await eventually('the pool is idle again', () => slotsInUse === 0, 3_000).catch(() => undefined);
    const text = await gate.metrics.registry.metrics();
    expect(/gatehouse_upstream_slots_in_use (\d+)/.exec(text)?.[1]).toBe('0');
    expect(/gatehouse_upstream_queue_length (\d+)/.exec(text)?.[1]).toBe('0');
  });
  let slotsInUse = 0;
  const readSlots = setInterval(async () => {
    const text = await gate?.metrics.registry.metrics();
    slotsInUse = Number(/gatehouse_upstream_slots_in_use (\d+)/.exec(text ?? '')?.[1] ?? 0);
  }, 50);

  const signedIn = async (path: string) => {
    const started = performance.now();
    const res = await request(`${gate.url}${path}`, {
      headers: { 'cf-access-client-id': 'ci-bot', 'cf-access-client-secret': token.secret },
      headersTimeout: 5_000,
    });
    await res.body.text();
    return { status: res.statusCode, ms: performance.now() - started };
  };

  it('2: clients that leave while queued for the pool never freeze it (FIN and RST)', async () => {
    for (let round = 0; round < 4; round++) {
      const held = [0, 1].map(() => request(`${gate.url}/slow`).then((r) => r.body.text()));
      const leavers = await Promise.all(Array.from({ length: 12 }, () => openRaw(gate.port)));
      for (const c of leavers) c.socket.write(GET('/slow'));
      await sleep(50);
      // A FIN may be a half-close (the request stays, its answer then fails); an RST is gone.
      for (const c of leavers) round % 2 === 0 ? c.socket.destroy() : c.socket.resetAndDestroy();
      await Promise.all(held);
    }
    for (let i = 0; i < 5; i++) {
      const { status, ms } = await signedIn('/slow');
      expect(status).toBe(200);
      expect(ms).toBeLessThan(2_000);
    }
  });

  it('2: two callers queued in turn, one leaving mid-queue (RST) while its later request still waits: the rest are served, the leavers never reach the upstream', async () => {
    // One slot per caller (a quarter of 4): a0 and b0 hold theirs, the rest wait in arrival order.
    const order = ['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3'];
    const clients = new Map<string, Awaited<ReturnType<typeof openRaw>>>();
    for (const name of order) {
      const c = await openRaw(gate.port, name.startsWith('a') ? '127.0.0.12' : '127.0.0.13');
      c.socket.write(GET(`/slow?${name}`));
      clients.set(name, c);
      await sleep(10);
    }
    await sleep(50);
    for (const name of ['a1', 'a2']) clients.get(name)?.socket.resetAndDestroy();
    for (const name of ['a0', 'b0', 'b1', 'b2', 'a3'])
      await clients.get(name)?.waitFor(/HTTP\/1\.1 200/, 5_000);
    const reached = upstream.seen.map((r) => r.url);
    for (const name of ['a0', 'b0', 'b1', 'b2', 'a3']) expect(reached).toContain(`/slow?${name}`);
    for (const name of ['a1', 'a2']) expect(reached).not.toContain(`/slow?${name}`);
    await eventually('lines for the leavers', () => linesFor(gate, '/slow?a2').length === 1);
    for (const name of ['a1', 'a2'])
      expect(linesFor(gate, `/slow?${name}`)[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
    for (const c of clients.values()) c.socket.destroy();
  });

  it('3: slow anonymous uploads cannot starve identified callers, and end with 408 body_too_slow', async () => {
    // Eight anonymous clients from eight addresses: the anonymous share (2 of 4 slots) binds.
    const uploaders = await Promise.all(
      Array.from({ length: 8 }, (_, i) => openRaw(gate.port, `127.0.0.${i + 2}`)),
    );
    for (const c of uploaders)
      c.socket.write('POST /upload-slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n');
    const drip = setInterval(() => {
      for (const c of uploaders) if (!c.socket.destroyed) c.socket.write('x');
    }, 300);
    try {
      await sleep(300);
      for (let i = 0; i < 3; i++) {
        const { status, ms } = await signedIn('/');
        expect(status).toBe(200);
        expect(ms).toBeLessThan(1_000);
      }
      // Admitted uploads are cut by the body rate; those still queued by the bounded wait.
      await Promise.all(uploaders.map((c) => c.waitFor(/HTTP\/1\.1 (408|503)/, 6_000)));
    } finally {
      clearInterval(drip);
    }
    await eventually('eight lines for the slow uploads', () => linesFor(gate, '/upload-slow').length === 8);
    const lines = linesFor(gate, '/upload-slow');
    const cut = lines.filter((l) => l.error === 'body_too_slow');
    expect(cut.length).toBeGreaterThanOrEqual(2);
    for (const line of cut) expect(line).toMatchObject({ status: 408, outcome: 'client_timeout' });
    for (const line of lines.filter((l) => l.error !== 'body_too_slow'))
      expect(line).toMatchObject({ status: 503, outcome: 'overloaded', error: 'upstream_busy' });
  });

  it('3: the wait for an upstream connection is bounded: 503 with Retry-After, logged', async () => {
    const hanging = await Promise.all(Array.from({ length: 2 }, () => openRaw(gate.port)));
    for (const c of hanging) c.socket.write(GET('/hang'));
    await sleep(100);
    const res = await request(`${gate.url}/hang?queued`, { headersTimeout: 5_000 });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    await res.body.text();
    for (const c of hanging) c.socket.resetAndDestroy();
    await eventually('the 503 line', () => linesFor(gate, '/hang?queued').length === 1);
    expect(linesFor(gate, '/hang?queued')[0]).toMatchObject({
      outcome: 'overloaded',
      error: 'upstream_busy',
      errorCause: 'queue_timeout',
    });
    // Counted as logged (the second /hang waited for its caller's one slot and timed out too).
    expect(await overloadRefusals(gate)).toEqual(overloadsLogged(gate));
    expect(overloadsLogged(gate).queue_timeout).toBeGreaterThanOrEqual(1);
  });

  it('5 and 10: a body cut by FIN is one client_abort line with its true byte count', async () => {
    const c = await openRaw(gate.port);
    c.socket.write('POST /upload-fin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789');
    await sleep(100);
    c.socket.end();
    await c.closed;
    await sleep(300);
    const lines = linesFor(gate, '/upload-fin');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
    expect(lines[0]?.bytesIn).toBe(77); // the 67-byte head and the 10 body bytes that arrived
  });

  it('5: a malformed chunk in the body is one 400 line', async () => {
    const c = await openRaw(gate.port);
    c.socket.write(
      'POST /upload-bad HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    );
    await sleep(100);
    c.socket.write('zz\r\nnot a chunk\r\n');
    await c.closed;
    await sleep(300);
    const lines = linesFor(gate, '/upload-bad');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 400, outcome: 'rejected', error: 'bad_request' });
  });

  it('6: a pipelined upgrade gets its 101 after the response to the request ahead', async () => {
    const c = await openRaw(gate.port);
    c.socket.write(GET('/slow') + upgradeRequest('/ws'));
    const text = await c.waitFor(/101 Switching/, 3_000);
    expect(statusesOf(text)).toEqual([200, 101]);
    c.socket.destroy();
  });

  it('6: a client that half-closes after a complete request still gets its response', async () => {
    const c = await openRaw(gate.port);
    c.socket.end(GET('/slow'));
    const text = await c.waitFor(/slow ok/, 3_000);
    expect(statusesOf(text)).toEqual([200]);
  });

  it('10: CONNECT is answered 405 and logged', async () => {
    const c = await openRaw(gate.port);
    c.socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await c.waitFor(/HTTP\/1\.1 405/);
    await eventually('the CONNECT line', () => gate.records().some((r) => r.method === 'CONNECT'));
    expect(gate.records().find((r) => r.method === 'CONNECT')).toMatchObject({
      status: 405,
      outcome: 'rejected',
      error: 'connect_not_supported',
    });
  });

  it('10: a connection that never sends a byte is closed by the header timeout without a request line', async () => {
    const before = gate.records().length;
    const c = await openRaw(gate.port);
    await c.closed;
    expect(c.received()).toBe('');
    await sleep(100);
    expect(gate.records().length).toBe(before);
    const metrics = await gate.metrics.registry.metrics();
    expect(metrics).toMatch(/gatehouse_client_connections_idle_closed_total [1-9]/);
  });
});

describe('5: pipelined requests whose connection is reset each get their one line', () => {
  it('a response queued between a slower one and a pipelined upgrade, when the client resets', async () => {
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } })); // default shares
    try {
      const c = await openRaw(gate.port);
      // Node drops its own close handling when it hands the socket over for the upgrade, so the
      // queued second response is never closed by Node itself.
      c.socket.write(GET('/slow?first') + GET('/fast?second') + upgradeRequest('/ws'));
      await sleep(150);
      c.socket.resetAndDestroy();
      await eventually(
        'a line for each pipelined request',
        () => ['/slow?first', '/fast?second'].every((u) => linesFor(gate, u).length === 1),
        3_000,
      );
      // The second waited in line behind the first (pipelined requests run one after another)
      // and never reached the upstream.
      expect(linesFor(gate, '/slow?first')[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
      expect(linesFor(gate, '/fast?second')[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
      expect(upstream.seen.map((r) => r.url)).toEqual(['/slow?first']);
    } finally {
      await gate.close();
      await upstream.close();
    }
  });
});

describe('2: readiness tells the truth when the sidecar cannot forward', () => {
  it('not ready while every upstream slot is held and none came back for a queue timeout; ready again after', async () => {
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url, maxConnections: 2 } }), {
      queueTimeoutMs: 500,
      anonymousShare: 1,
      clientShare: 1,
    });
    try {
      const hanging = await Promise.all([0, 1].map(() => openRaw(gate.port)));
      for (const c of hanging) c.socket.write(GET('/hang'));
      await sleep(100);
      expect(gate.sidecar.ready()).toBe(true);
      await eventually('not ready', () => !gate.sidecar.ready(), 3_000);
      for (const c of hanging) c.socket.resetAndDestroy();
      await eventually('ready again', () => gate.sidecar.ready(), 3_000);
    } finally {
      await gate.close();
      await upstream.close();
    }
  });
});

describe('paths of the request and the upgrade that hold resources', () => {
  async function gateWith(limits: Parameters<typeof startSidecar>[1], maxConnections = 128) {
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url, maxConnections } }), limits);
    return {
      upstream,
      gate,
      close: async () => {
        await gate.close();
        await upstream.close();
      },
    };
  }

  it('a download nobody reads is reset at the client idle timeout: the kernel keeps nothing for it; an idle keep-alive connection is closed', async () => {
    // 64 MiB answers, more than the kernel's buffers on both ends take.
    const chunk = Buffer.alloc(64 * 1024, 7);
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(1024 * chunk.length) });
      feed(res, chunk, 1024);
    });
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), {
      idleTimeoutMs: 1_000,
      keepAliveTimeoutMs: 1_000,
    });
    try {
      const stalled = await openRaw(gate.port, '127.0.2.30');
      stalled.socket.write(GET('/download'));
      stalled.socket.pause();
      const polite = await openRaw(gate.port, '127.0.2.31');
      polite.socket.write(GET('/download'));
      const port = stalled.socket.localPort ?? 0;
      await eventually('the answer queued in the kernel', () => (kernelSendQueue(gate.port, port) ?? 0) > 0);
      // Cut a second after its client took its last byte; closed, the connection would stay
      // (FIN-WAIT-1) with megabytes queued for minutes.
      await eventually('the connection gone', () => kernelSendQueue(gate.port, port) === undefined, 5_000);
      const lineOf = (peerIp: string) => linesFor(gate, '/download').find((l) => l.peerIp === peerIp);
      await eventually('its line', () => lineOf('127.0.2.30') !== undefined);
      expect(lineOf('127.0.2.30')).toMatchObject({ outcome: 'client_timeout' });
      // The client that read got all of it, then its idle connection was closed, not reset.
      await polite.closed;
      expect(polite.received().length).toBeGreaterThan(64 * 1024 * 1024);
      expect(polite.reset()).toBe(false);
      expect(lineOf('127.0.2.31')).toMatchObject({ status: 200, outcome: 'served' });
      stalled.socket.destroy();
    } finally {
      await gate.close();
      await upstream.close();
    }
  });

  it('a tunnel whose client takes nothing while the application sends is cut (reset) at the client idle timeout; a quiet one and a reading one stay', async () => {
    const { url: appUrl, close: closeApp } = await webSocketApp();
    const gate = await startSidecar(testConfig({ upstream: { url: appUrl } }), { idleTimeoutMs: 1_000 });
    try {
      const stalled = await openRaw(gate.port, '127.0.2.40');
      stalled.socket.write(upgradeRequest('/ws-feed'));
      stalled.socket.pause();
      const quiet = await openRaw(gate.port, '127.0.2.41');
      quiet.socket.write(upgradeRequest('/ws-quiet'));
      await quiet.waitFor(/HTTP\/1\.1 101/);
      const { client: reader, read } = await countingWebSocket(gate.port, '127.0.2.42', '/ws-feed');
      const port = stalled.socket.localPort ?? 0;
      await eventually('the feed queued in the kernel', () => (kernelSendQueue(gate.port, port) ?? 0) > 0);
      // Cut a second after its client took its last byte, with what the kernel held for it; it
      // stayed open for as long as the application sent, holding megabytes on both sockets.
      await eventually(
        'the stalled tunnel gone',
        () => kernelSendQueue(gate.port, port) === undefined,
        5_000,
      );
      const line = await (async () => {
        await eventually('its line', () => linesFor(gate, '/ws-feed').length >= 1);
        return linesFor(gate, '/ws-feed')[0];
      })();
      expect(line).toMatchObject({ status: 101, outcome: 'upgraded', error: 'client_timeout' });
      // A quiet tunnel has no idle timeout; one whose client reads goes on.
      const before = read();
      await sleep(2_000);
      expect(quiet.isClosed()).toBe(false);
      expect(reader.isClosed()).toBe(false);
      expect(read()).toBeGreaterThan(before);
      for (const c of [stalled, quiet, reader]) c.socket.destroy();
    } finally {
      await gate.close();
      await closeApp();
    }
  });

  it('a tunnel whose client takes a few bytes now and then, under --client-send-min-rate over an idle timeout it keeps the application waiting, is reset; one that reads at the rate stays', async () => {
    const { url: appUrl, close: closeApp } = await webSocketApp();
    // 10 MB/s over each 2 s the application waits on the client (500 B/s over 60 s as shipped):
    // on loopback the kernel lets the sidecar write again only once it has sent a megabyte or
    // more of what it holds, so a client slow enough to be seen by a slower rate would take no
    // write at all in 2 s, and be cut as stalled.
    const gate = await startSidecar(testConfig({ upstream: { url: appUrl } }), {
      idleTimeoutMs: 2_000,
      sendMinRate: 10_000_000,
    });
    try {
      // A trickle: 32 KiB every 20 ms, 1.6 MB/s, never silent for the stall's 2 s.
      const trickler = await openRaw(gate.port, '127.0.2.44');
      trickler.socket.write(upgradeRequest('/ws-feed?trickle'));
      const taking = trickle(trickler, 32 * 1024, 20);
      const { client: reader, read } = await countingWebSocket(gate.port, '127.0.2.45', '/ws-feed?reader');
      try {
        await eventually('the trickling tunnel reset', () => trickler.socket.destroyed, 10_000);
        const before = read();
        await sleep(2_000);
        expect(reader.socket.destroyed).toBe(false);
        expect(read()).toBeGreaterThan(before + 2 * 10_000_000);
      } finally {
        clearInterval(taking);
      }
      await eventually('its line', () => linesFor(gate, '/ws-feed?trickle').length === 1);
      expect(linesFor(gate, '/ws-feed?trickle')[0]).toMatchObject({
        status: 101,
        outcome: 'upgraded',
        error: 'response_read_too_slow',
        errorCause: 'under_min_rate',
      });
      expect(await gate.metrics.registry.metrics()).toMatch(
        /^gatehouse_slow_clients_cut_total\{app="[^"]+",cause="under_min_rate"\} 1$/m,
      );
      reader.socket.destroy();
    } finally {
      await gate.close();
      await closeApp();
    }
  });

  it('a tunnel whose stalled client resets (RST) while its stall is timed ends at once, with its application side; not as a timeout', async () => {
    const { url: appUrl, sockets: appSockets, close: closeApp } = await webSocketApp();
    const idleTimeoutMs = 4_000;
    const gate = await startSidecar(testConfig({ upstream: { url: appUrl } }), { idleTimeoutMs });
    try {
      const stalled = await openRaw(gate.port, '127.0.2.43');
      stalled.socket.write(upgradeRequest('/ws-reset'));
      stalled.socket.pause();
      const port = stalled.socket.localPort ?? 0;
      await eventually('the feed queued in the kernel', () => (kernelSendQueue(gate.port, port) ?? 0) > 0);
      // The kernel's buffers and the sidecar's fill within a few hundred milliseconds; from then
      // the application is held back and the stall is timed.
      await eventually('the application held back', () => [...appSockets].some((s) => s.writableNeedDrain));
      await sleep(300);
      const appSide = [...appSockets][0];
      stalled.socket.resetAndDestroy();
      // Long before the stall's timeout would have cut it.
      await eventually('the application side closed', () => appSide?.closed === true, idleTimeoutMs / 2);
      await eventually('the sidecar side gone', () => kernelSendQueue(gate.port, port) === undefined, 2_000);
      await eventually('its line', () => linesFor(gate, '/ws-reset').length >= 1);
      const line = linesFor(gate, '/ws-reset')[0];
      expect(line).toMatchObject({ status: 101, outcome: 'upgraded' });
      expect(line?.error).not.toBe('client_timeout');
      // The stall's timer went with the tunnel: nothing is cut or logged when it would have fired.
      await sleep(idleTimeoutMs);
      expect(linesFor(gate, '/ws-reset')).toHaveLength(1);
    } finally {
      await gate.close();
      await closeApp();
    }
  });

  it('a refusal sent on a raw socket (a denied handshake, CONNECT, a malformed head) is closed 2 s later if its client never closes; its line is written then', async () => {
    await withDenyingSidecar({}, async (gate) => {
      // The server lets clients half-close, so an ended socket stayed open until its client
      // closed too: one that never did held the connection (and, for the two raw answers after
      // Node hands the socket over, kept its line unwritten) for good.
      const refusals = [
        upgradeRequest('/admin/ws?held'),
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
        'G@T /malformed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      ];
      const started = performance.now();
      const clients = [];
      for (const [i, payload] of refusals.entries()) {
        const c = await openRaw(gate.port, `127.8.7.${i + 1}`, true);
        c.socket.write(payload);
        clients.push(c);
      }
      for (const c of clients) await c.waitFor(/^HTTP\/1\.1 (403|405|400) /);
      // The clients keep their side open; the sidecar closes its own.
      expect(await connectionsOpen(gate)).toBe(3);
      await eventually(
        'the sidecar closed the three',
        async () => (await connectionsOpen(gate)) === 0,
        4_000,
      );
      expect(performance.now() - started).toBeGreaterThan(1_500);
      for (const c of clients) c.socket.destroy();
      await eventually('the three lines', () => gate.records().length === 3);
      expect(gate.records().map((l) => [l.status, l.error])).toEqual(
        expect.arrayContaining([
          [403, 'access_denied'],
          [405, 'connect_not_supported'],
          [400, 'bad_request'],
        ]),
      );
    });
  });

  it('after a raw refusal, a client that trickles bytes is closed 2 s later all the same; one that resets is let go at once, with its one line', async () => {
    await withDenyingSidecar({}, async (gate) => {
      const trickler = await openRaw(gate.port, '127.8.8.1', true);
      trickler.socket.write(upgradeRequest('/admin/ws?trickle'));
      await trickler.waitFor(/^HTTP\/1\.1 403 /);
      const started = performance.now();
      const drip = setInterval(() => trickler.socket.writable && trickler.socket.write('x'), 100);
      try {
        const resetter = await openRaw(gate.port, '127.8.8.2', true);
        resetter.socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
        await resetter.waitFor(/^HTTP\/1\.1 405 /);
        resetter.socket.resetAndDestroy();
        await eventually('the reset one let go', async () => (await connectionsOpen(gate)) === 1, 1_000);
        await eventually(
          'its line',
          () => gate.records().some((l) => l.error === 'connect_not_supported'),
          1_000,
        );
        expect(performance.now() - started).toBeLessThan(1_500);
        await eventually('the trickling one closed', async () => (await connectionsOpen(gate)) === 0, 4_000);
        expect(performance.now() - started).toBeGreaterThan(1_500);
      } finally {
        clearInterval(drip);
        trickler.socket.destroy();
      }
      expect(
        gate
          .records()
          .map((l) => l.error)
          .sort(),
      ).toEqual(['access_denied', 'connect_not_supported']);
    });
  });

  it('a WebSocket handshake with a coded body: 501 on the raw socket, never reaches the application; silence and a trickle closed 2 s later, a reset let go at once', async () => {
    await withDenyingSidecar({}, async (gate) => {
      const coded = (path: string) =>
        upgradeRequest(path).replace('\r\n\r\n', '\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
      const [silent, trickler, resetter] = await Promise.all(
        ['/served?silent', '/served?trickle', '/served?reset'].map(async (path, i) => {
          const c = await openRaw(gate.port, `127.8.9.${i + 1}`, true);
          c.socket.write(coded(path));
          await c.waitFor(/^HTTP\/1\.1 501 /);
          return c;
        }),
      );
      const started = performance.now();
      const drip = setInterval(() => trickler?.socket.writable && trickler.socket.write('1\r\nx\r\n'), 100);
      try {
        resetter?.socket.resetAndDestroy();
        await eventually('the reset one let go', async () => (await connectionsOpen(gate)) === 2, 1_000);
        expect(performance.now() - started).toBeLessThan(1_500);
        await eventually(
          'the silent and trickling ones closed',
          async () => (await connectionsOpen(gate)) === 0,
          4_000,
        );
        expect(performance.now() - started).toBeGreaterThan(1_500);
      } finally {
        clearInterval(drip);
        silent?.socket.destroy();
        trickler?.socket.destroy();
      }
      await eventually('the three lines', () => gate.records().length === 3);
      // A path the policies let through: the refusal comes before them, and nothing went upstream.
      expect(gate.records().map((l) => [l.status, l.error, l.upgrade, l.upstreamMs])).toEqual([
        [501, 'transfer_coding_not_supported', true, null],
        [501, 'transfer_coding_not_supported', true, null],
        [501, 'transfer_coding_not_supported', true, null],
      ]);
    });
  });

  it('tunnel caps: per caller and overall, 503 tunnel_limit logged, a closed tunnel frees its place', async () => {
    // Every caller here is anonymous: no share of the tunnels kept for identified ones.
    const { gate, close } = await gateWith({ maxClientTunnels: 2, maxTunnels: 3, anonymousShare: 1 });
    try {
      const open = async (from: string) => {
        const c = await openRaw(gate.port, from);
        c.socket.write(upgradeRequest('/ws'));
        await c.waitFor(/HTTP\/1\.1 (101|503)/);
        return c;
      };
      const [a1, a2, a3] = [await open('127.0.2.1'), await open('127.0.2.1'), await open('127.0.2.1')];
      const [b1, c1] = [await open('127.0.2.2'), await open('127.0.2.3')];
      expect([a1, a2, a3, b1, c1].map((c) => statusesOf(c.received())[0])).toEqual([101, 101, 503, 101, 503]);
      a1.socket.destroy();
      await eventually('the closed tunnel is gone', () => linesFor(gate, '/ws').length >= 3);
      const c2 = await open('127.0.2.3');
      expect(statusesOf(c2.received())).toEqual([101]);
      const refused = linesFor(gate, '/ws').filter((l) => l.status === 503);
      expect(refused).toHaveLength(2);
      for (const l of refused) expect(l).toMatchObject({ outcome: 'overloaded', error: 'tunnel_limit' });
      // The third of one caller met its own cap; the other caller's first, the overall one.
      expect(refused.map((l) => [l.clientIp, l.errorCause])).toEqual([
        ['127.0.2.1', 'caller_tunnels_full'],
        ['127.0.2.3', 'tunnels_full'],
      ]);
      expect(await overloadRefusals(gate)).toEqual({ caller_tunnels_full: 1, tunnels_full: 1 });
      for (const c of [a2, a3, b1, c1, c2]) c.socket.destroy();
    } finally {
      await close();
    }
  });

  it('anonymous callers hold their share of the tunnels together, not all of them: a signed-in caller still opens its WebSockets', async () => {
    const token = newServiceToken();
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(
      testConfig({
        upstream: { url: upstream.url },
        authentication: { serviceTokens: { tokens: [{ id: 'ci-bot', secretHash: token.secretHash }] } },
      }),
      { maxTunnels: 4, maxClientTunnels: 2, anonymousShare: 0.5 },
    );
    const opened: Awaited<ReturnType<typeof openRaw>>[] = [];
    const open = async (from: string, path: string, signedIn = false) => {
      const c = await openRaw(gate.port, from);
      opened.push(c);
      const credentials = `cf-access-client-id: ci-bot\r\ncf-access-client-secret: ${token.secret}\r\n`;
      const handshake = upgradeRequest(path);
      c.socket.write(signedIn ? handshake.replace('\r\n\r\n', `\r\n${credentials}\r\n`) : handshake);
      await c.waitFor(/HTTP\/1\.1 (101|503)/);
      return statusesOf(c.received())[0];
    };
    try {
      // Two anonymous addresses, each under its own cap of 2: together they may hold 2 of the 4.
      const anonymous = [
        await open('127.0.3.1', '/ws?a1'),
        await open('127.0.3.1', '/ws?a2'),
        await open('127.0.3.2', '/ws?b1'),
        await open('127.0.3.2', '/ws?b2'),
      ];
      const identified = [await open('127.0.3.3', '/ws?s1', true), await open('127.0.3.3', '/ws?s2', true)];
      expect({ anonymous, identified }).toEqual({ anonymous: [101, 101, 503, 503], identified: [101, 101] });
      const refused = () => gate.records().filter((l) => l.status === 503);
      await eventually('the refusals are logged', () => refused().length === 2);
      expect(refused().map((l) => [l.uri, l.clientIp, l.error, l.errorCause])).toEqual([
        ['/ws?b1', '127.0.3.2', 'tunnel_limit', 'anonymous_tunnels_full'],
        ['/ws?b2', '127.0.3.2', 'tunnel_limit', 'anonymous_tunnels_full'],
      ]);
      expect(await overloadRefusals(gate)).toEqual({ anonymous_tunnels_full: 2 });
      // An anonymous tunnel that closes gives its place to the next anonymous caller.
      opened[0]?.socket.destroy();
      await eventually(
        'the closed tunnel is gone',
        async () => (await open('127.0.3.2', '/ws?b3')) === 101,
        2_000,
      );
    } finally {
      for (const c of opened) c.socket.destroy();
      await gate.close();
      await upstream.close();
    }
  });

  it('an anonymous handshake reset (RST) or half-closed (FIN) mid-upgrade gives its place in the anonymous share back', async () => {
    const upstream = await startHostileUpstream({ upgradeDelayMs: 300 });
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), {
      maxTunnels: 2,
      maxClientTunnels: 2,
      anonymousShare: 0.5,
    });
    try {
      for (const leave of ['rst', 'fin'] as const) {
        const leaver = await openRaw(gate.port, '127.0.3.11');
        leaver.socket.write(upgradeRequest(`/ws?leaver-${leave}`));
        await sleep(100); // its place taken, the application not answered yet
        if (leave === 'rst') leaver.socket.resetAndDestroy();
        else leaver.socket.end();
        await eventually('its line', () => gate.records().some((l) => l.uri === `/ws?leaver-${leave}`));
        const next = await openRaw(gate.port, '127.0.3.12');
        next.socket.write(upgradeRequest(`/ws?next-${leave}`));
        await next.waitFor(/HTTP\/1\.1 (101|503)/);
        expect(statusesOf(next.received())).toEqual([101]);
        next.socket.destroy();
        await eventually('the tunnel gone', () => gate.records().some((l) => l.uri === `/ws?next-${leave}`));
        leaver.socket.destroy();
      }
    } finally {
      await gate.close();
      await upstream.close();
    }
  });

  it('a tunnel whose client half-closes (FIN) and then takes nothing while the application sends is cut at the client idle timeout all the same', async () => {
    const { url: appUrl, close: closeApp } = await webSocketApp();
    const gate = await startSidecar(testConfig({ upstream: { url: appUrl } }), { idleTimeoutMs: 1_000 });
    try {
      const client = await openRaw(gate.port, '127.0.3.13', true);
      client.socket.write(upgradeRequest('/ws-feed?fin'));
      await client.waitFor(/HTTP\/1\.1 101/);
      client.socket.pause();
      client.socket.end();
      const port = client.socket.localPort ?? 0;
      await eventually(
        'the tunnel gone, nothing queued for it',
        () => kernelSendQueue(gate.port, port) === undefined,
        5_000,
      );
      await eventually('its line', () => linesFor(gate, '/ws-feed?fin').length === 1);
      expect(linesFor(gate, '/ws-feed?fin')[0]).toMatchObject({ status: 101, outcome: 'upgraded' });
      client.socket.destroy();
    } finally {
      await gate.close();
      await closeApp();
    }
  });

  /** An upload whose body comes `piece` every `everyMs`: answered 408 and logged with `error`. */
  async function uploadCutWith408(
    gate: InProcessSidecar,
    path: string,
    length: number,
    piece: Buffer | string,
    everyMs: number,
    error: string,
  ): Promise<void> {
    const c = await openRaw(gate.port);
    c.socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${length}\r\n\r\n`);
    const drip = setInterval(() => c.socket.writable && c.socket.write(piece), everyMs);
    try {
      await c.waitFor(/HTTP\/1\.1 408/, 5_000);
    } finally {
      clearInterval(drip);
    }
    await eventually('its line', () => linesFor(gate, path).length === 1);
    expect(linesFor(gate, path)[0]).toMatchObject({ status: 408, outcome: 'client_timeout', error });
    c.socket.destroy();
  }

  it('the request deadline ends an upload that is fast enough for the body rate but never ends: 408 request_deadline', async () => {
    const { gate, close } = await gateWith({ requestTimeoutMs: 1_500, bodyTimeoutMs: 0 });
    try {
      await uploadCutWith408(
        gate,
        '/upload-forever',
        10_000_000,
        Buffer.alloc(1_000, 1),
        100,
        'request_deadline',
      );
    } finally {
      await close();
    }
  });

  it('the slow-body check runs only while a request is being read, and starts again with the next: a trickled upload after a quiet second is still cut (408 body_too_slow)', async () => {
    const { gate, close } = await gateWith({ bodyTimeoutMs: 1_000, bodyMinRate: 500 });
    try {
      // One request comes and its client resets; a second passes with none being read, so the
      // check stops.
      const first = await openRaw(gate.port);
      first.socket.write(GET('/before'));
      await first.waitFor(/HTTP\/1\.1 200/, 3_000);
      first.socket.resetAndDestroy();
      await sleep(1_500);
      await uploadCutWith408(gate, '/upload-trickle', 100_000, 'x', 200, 'body_too_slow');
    } finally {
      await close();
    }
  });

  it('after a quiet second, an upload queued for the only upstream connection (held, not read) is admitted and its trickled body cut (408 body_too_slow)', async () => {
    const { gate, upstream, close } = await gateWith(
      { bodyTimeoutMs: 1_000, bodyMinRate: 500, queueTimeoutMs: 5_000, anonymousShare: 1, clientShare: 1 },
      1,
    );
    try {
      const first = await openRaw(gate.port);
      first.socket.write(GET('/before'));
      await first.waitFor(/HTTP\/1\.1 200/, 3_000);
      await sleep(1_500); // nothing being read: the check stops
      first.socket.write(GET('/slow')); // holds the one upstream connection for 300 ms
      await sleep(20);
      const queued = uploadCutWith408(gate, '/upload-queued', 100_000, 'x', 200, 'body_too_slow');
      await sleep(150);
      expect(upstream.seen.map((r) => r.url)).not.toContain('/upload-queued'); // still in line
      await first.waitFor(/slow ok/, 3_000);
      await queued;
      first.socket.destroy();
    } finally {
      await close();
    }
  });

  it('a malformed request pipelined behind a pending one gets its own 400 line, after the response ahead', async () => {
    const { gate, close } = await gateWith({});
    try {
      const c = await openRaw(gate.port);
      c.socket.write(`${GET('/slow?ahead')}NOT HTTP AT ALL\r\n\r\n`);
      const text = await c.waitFor(/HTTP\/1\.1 400/, 3_000);
      expect(statusesOf(text)).toEqual([200, 400]);
      await eventually('two lines', () => gate.records().length === 2);
      expect(gate.records().map((r) => [r.uri, r.status, r.outcome])).toEqual([
        ['/slow?ahead', 200, 'served'],
        [expect.any(String), 400, 'rejected'],
      ]);
    } finally {
      await close();
    }
  });

  it('an upgrade waiting for a pool slot: a reset drops it before dispatch, and the wait is bounded (503)', async () => {
    const { gate, upstream, close } = await gateWith(
      { queueTimeoutMs: 600, anonymousShare: 1, clientShare: 1 },
      1,
    );
    try {
      const holder = await openRaw(gate.port, '127.0.3.1');
      holder.socket.write(GET('/hang'));
      await sleep(100);
      const leaver = await openRaw(gate.port, '127.0.3.2');
      leaver.socket.write(upgradeRequest('/ws?left'));
      await sleep(100);
      leaver.socket.resetAndDestroy();
      const waiter = await openRaw(gate.port, '127.0.3.3');
      waiter.socket.write(upgradeRequest('/ws?waited'));
      await waiter.waitFor(/HTTP\/1\.1 503/, 3_000);
      holder.socket.resetAndDestroy();
      await eventually('three lines', () => gate.records().length === 3);
      expect(linesFor(gate, '/ws?left')[0]).toMatchObject({ status: 499, outcome: 'client_abort' });
      expect(linesFor(gate, '/ws?waited')[0]).toMatchObject({
        status: 503,
        outcome: 'overloaded',
        error: 'upstream_busy',
        errorCause: 'queue_timeout',
      });
      await sleep(200);
      expect(upstream.seen.map((r) => r.url)).toEqual(['/hang']); // neither upgrade was dispatched
    } finally {
      await close();
    }
  });
});

/**
 * Opens `count` connections, each declaring a body of 100 kB it does not send, to a path denied
 * as `/admin/**`; resolves once each has its 403 (the body still to come).
 */
async function answeredBeforeTheirBodies(
  port: number,
  count: number,
  from: (i: number) => string,
): Promise<RawClient[]> {
  const declared: RawClient[] = [];
  for (let i = 0; i < count; i++) {
    const c = await openRaw(port, from(i));
    c.socket.write(`POST /admin/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n`);
    declared.push(c);
  }
  await eventually('all answered 403', () => declared.every((c) => statusesOf(c.received())[0] === 403));
  return declared;
}

/** Client connections the in-process sidecar holds now (its gauge). */
async function connectionsOpen(gate: InProcessSidecar): Promise<number> {
  return Number(/^gatehouse_client_connections (\d+)$/m.exec(await gate.metrics.registry.metrics())?.[1]);
}

/** gatehouse_overload_refusals_total by cause, those counted only. */
async function overloadRefusals(gate: InProcessSidecar): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const text = await gate.metrics.registry.metrics();
  for (const [, cause, count] of text.matchAll(
    /^gatehouse_overload_refusals_total\{app="[^"]*",cause="(\w+)"\} (\d+)$/gm,
  ))
    counts[cause as string] = Number(count);
  return counts;
}

/** The lines' overload causes (`errorCause` of 503 upstream_busy and tunnel_limit), counted. */
function overloadsLogged(gate: InProcessSidecar): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of gate.records())
    if (line.outcome === 'overloaded' && typeof line.errorCause === 'string')
      counts[line.errorCause] = (counts[line.errorCause] ?? 0) + 1;
  return counts;
}

/** Runs `test` against an in-process sidecar that bypasses `/served` and denies `/admin/**`. */
async function withDenyingSidecar(
  limits: Parameters<typeof startSidecar>[1],
  test: (gate: InProcessSidecar) => Promise<void>,
): Promise<void> {
  const upstream = await startHostileUpstream();
  const gate = await startSidecar(
    testConfig(
      { upstream: { url: upstream.url }, policies: [{ name: 'open' }, { name: 'no-admin' }] },
      {
        open: { decision: 'bypass', include: [{ paths: ['/served'] }] },
        'no-admin': { decision: 'deny', include: [{ paths: ['/admin/**'] }] },
      },
    ),
    limits,
  );
  try {
    await test(gate);
  } finally {
    await gate.close();
    await upstream.close();
  }
}

describe('the connection cap', () => {
  it('at --max-connections a new connection closes the one idle longest; silent connections cannot keep clients out', async () => {
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), { maxConnections: 16 });
    try {
      // One address fills the cap with connections that send nothing...
      const silent = [];
      for (let i = 0; i < 16; i++) silent.push(await openRaw(gate.port, '127.8.0.1'));
      await sleep(100);
      // ...and keeps opening more: each takes the place of the oldest silent one.
      const more = [];
      for (let i = 0; i < 4; i++) more.push(await openRaw(gate.port, '127.8.0.1'));
      await sleep(100);
      expect(silent.map((c) => c.isClosed())).toEqual([...Array(4).fill(true), ...Array(12).fill(false)]);
      // A client from elsewhere gets in and is answered, and its kept-alive connection outlives
      // the silent ones opened before its request.
      const client = await openRaw(gate.port, '127.8.0.2');
      client.socket.write(GET('/served'));
      await client.waitFor(/ok$/);
      expect(silent.filter((c) => c.isClosed()).length).toBe(5);
      for (let i = 0; i < 11; i++) more.push(await openRaw(gate.port, '127.8.0.1'));
      await sleep(100);
      expect(silent.every((c) => c.isClosed())).toBe(true);
      expect(client.isClosed()).toBe(false);
      client.socket.write(GET('/served-again'));
      await client.waitFor(/ok[\s\S]*ok$/);
      const metrics = await gate.metrics.registry.metrics();
      expect(metrics).toMatch(/gatehouse_client_connections_evicted_total 16/);
      expect(metrics).toMatch(/gatehouse_client_connections_dropped_total 0/);
      for (const c of [...silent, ...more, client]) c.socket.destroy();
    } finally {
      await gate.close();
      await upstream.close();
    }
  });

  it('at the cap, only idle connections are closed: never one queued, mid-body, half-closed, mid-upgrade or tunnelled', async () => {
    const upstream = await startHostileUpstream({ upgradeDelayMs: 3_000 });
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url, maxConnections: 2 } }), {
      maxConnections: 12,
      anonymousShare: 1,
      clientShare: 1,
      queueTimeoutMs: 30_000,
    });
    try {
      const at = (i: number) => `127.8.4.${1 + i}`;
      // Idle, oldest first: a head trickling in, then one that resets, then silent ones.
      const trickle = await openRaw(gate.port, at(0));
      const head = `GET /trickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(100)}`;
      let sent = 0;
      const drip = setInterval(() => trickle.socket.write(head[sent++ % head.length] as string), 100);
      const reset = await openRaw(gate.port, at(1));
      // Busy: two requests holding both upstream connections, one queued behind them, one
      // queued mid-body, one half-closed after its request, one upgrade whose 101 is 3 s away.
      const busy = [];
      for (let i = 0; i < 2; i++) {
        const c = await openRaw(gate.port, at(2 + i));
        c.socket.write(GET('/hang'));
        busy.push(c);
      }
      await sleep(100);
      const queued = await openRaw(gate.port, at(4));
      queued.socket.write(GET('/hang'));
      const midBody = await openRaw(gate.port, at(5));
      midBody.socket.write(
        'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789',
      );
      const halfClosed = await openRaw(gate.port, at(6));
      halfClosed.socket.end(GET('/hang'));
      const upgrading = await openRaw(gate.port, at(7));
      upgrading.socket.write(upgradeRequest('/ws'));
      busy.push(queued, midBody, halfClosed, upgrading);
      const silent = [];
      for (let i = 0; i < 4; i++) silent.push(await openRaw(gate.port, at(8 + i)));
      await sleep(200);
      reset.socket.resetAndDestroy();
      await sleep(100);
      // 11 open of 12: one new connection fits, then each closes the one idle longest.
      const newcomers = [];
      for (let i = 0; i < 6; i++) newcomers.push(await openRaw(gate.port, at(20 + i)));
      await sleep(200);
      expect(trickle.isClosed()).toBe(true);
      expect(silent.map((c) => c.isClosed())).toEqual([true, true, true, true]);
      expect(busy.map((c) => c.isClosed())).toEqual([false, false, false, false, false, false]);
      const metrics = await gate.metrics.registry.metrics();
      expect(metrics).toMatch(/gatehouse_client_connections_evicted_total 5/);
      expect(metrics).toMatch(/gatehouse_client_connections_dropped_total 0/);
      clearInterval(drip);
      for (const c of [trickle, ...busy, ...silent, ...newcomers]) c.socket.destroy();
    } finally {
      await gate.close();
      await upstream.close();
    }
  });

  it('a refused WebSocket handshake is no tunnel: clients that never close them cannot fill the cap', async () => {
    await withDenyingSidecar({ maxConnections: 16 }, async (gate) => {
      // Each asks to upgrade a denied path, reads its 403 and never closes. Before, each refused
      // handshake counted as a tunnel until its client closed, and 16 of them closed every new
      // connection on accept, for as long as the client kept them.
      const refused = [];
      for (let i = 0; i < 16; i++) {
        const c = await openRaw(gate.port, '127.8.6.1', true);
        c.socket.write(upgradeRequest('/admin/ws'));
        await c.waitFor(/^HTTP\/1\.1 403 /);
        refused.push(c);
      }
      const client = await openRaw(gate.port, '127.8.6.2');
      client.socket.write(GET('/served'));
      await client.waitFor(/ok$/);
      const metrics = await gate.metrics.registry.metrics();
      expect(metrics).toMatch(/gatehouse_client_connections_evicted_total 1/);
      expect(metrics).toMatch(/gatehouse_client_connections_dropped_total 0/);
      for (const c of [...refused, client]) c.socket.destroy();
    });
  });

  it('a connection whose answer is out while the body it declared has not come is closed to make room', async () => {
    await withDenyingSidecar({ maxConnections: 16 }, async (gate) => {
      // Each declares a body, sends none, and is answered 403 at once. The rest of the body would
      // be read and dropped; before, each connection stayed busy for the body timeout (20 s),
      // and 16 of them kept every new client out.
      const declared = await answeredBeforeTheirBodies(gate.port, 16, () => '127.8.5.1');
      const client = await openRaw(gate.port, '127.8.5.2');
      client.socket.write(GET('/served'));
      await client.waitFor(/ok$/);
      expect(declared.filter((c) => c.isClosed())).toHaveLength(1);
      const metrics = await gate.metrics.registry.metrics();
      expect(metrics).toMatch(/gatehouse_client_connections_evicted_total 1/);
      expect(metrics).toMatch(/gatehouse_client_connections_dropped_total 0/);
      for (const c of [...declared, client]) c.socket.destroy();
    });
  });

  it('after its answer, the rest of a declared body: a reset, a FIN, silence and a trickle below the body rate each end the connection, one line each', async () => {
    await withDenyingSidecar({ maxConnections: 16, bodyTimeoutMs: 1_000 }, async (gate) => {
      const declared = await answeredBeforeTheirBodies(gate.port, 4, (i) => `127.8.6.${1 + i}`);
      const [reset, fin, silent, trickle] = declared as [RawClient, RawClient, RawClient, RawClient];
      reset.socket.resetAndDestroy();
      fin.socket.end();
      const drip = setInterval(() => trickle.socket.write('x'), 100);
      const open = async () =>
        Number(
          /^gatehouse_client_connections (\d+)$/m.exec(
            await gate.metrics.registry.getSingleMetricAsString('gatehouse_client_connections'),
          )?.[1],
        );
      try {
        // The body clock (1 s here, plus 1 s per 500 bytes) ends the silent and the trickled one.
        await expect.poll(open, { timeout: 5_000, interval: 100 }).toBe(0);
      } finally {
        clearInterval(drip);
      }
      await Promise.all([fin.closed, silent.closed, trickle.closed]);
      const lines = gate.records().filter((r) => String(r.uri).startsWith('/admin/'));
      expect(lines.map((r) => r.uri).sort()).toEqual(['/admin/0', '/admin/1', '/admin/2', '/admin/3']);
      expect(new Set(lines.map((r) => r.status))).toEqual(new Set([403]));
    });
  });

  // Answered before the body they declared has come: each of the four ways to go on ends the
  // connection, with the request's one line.
  it.each([
    {
      what: 'a coded body answered 501',
      head: (i: number) =>
        `POST /served/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`,
      drip: '1\r\nx\r\n',
      status: 501,
      lines: (r: JsonLine) => String(r.uri).startsWith('/served/'),
      logged: (r: JsonLine) => `${r.status} ${r.error} ${r.uri}`,
      expected: [0, 1, 2, 3].map((i) => `501 transfer_coding_not_supported /served/${i}`),
    },
    {
      what: 'a readiness check with a body answered 200, whatever its Host',
      head: (i: number) =>
        `GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.9.9.${i}\r\nContent-Length: 100000\r\n\r\n`,
      drip: 'x',
      status: 200,
      lines: (r: JsonLine) => r.uri === '/.gatehouse/ready',
      logged: (r: JsonLine) => `${r.status} ${r.host}`,
      expected: [0, 1, 2, 3].map((i) => `200 10.9.9.${i}`),
    },
    {
      what: 'an OPTIONS readiness check with a body (HTTP/1.0, no Host) answered 200',
      head: (i: number) => `OPTIONS /.gatehouse/ready?n=${i} HTTP/1.0\r\nContent-Length: 100000\r\n\r\n`,
      drip: 'x',
      status: 200,
      lines: (r: JsonLine) => r.method === 'OPTIONS',
      logged: (r: JsonLine) => `${r.status} ${r.uri}`,
      expected: [0, 1, 2, 3].map((i) => `200 /.gatehouse/ready?n=${i}`),
    },
    {
      what: 'a TRACE with a body answered 405 (an open path)',
      head: (i: number) =>
        `TRACE /served?n=${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n`,
      drip: 'x',
      status: 405,
      lines: (r: JsonLine) => r.method === 'TRACE',
      logged: (r: JsonLine) => `${r.status} ${r.error} ${r.uri}`,
      expected: [0, 1, 2, 3].map((i) => `405 trace_not_supported /served?n=${i}`),
    },
  ])(
    '$what before it came: a reset, a FIN, silence and a trickle each end the connection, one line each',
    async ({ head, drip: dripped, status, lines, logged, expected }) => {
      await withDenyingSidecar({ maxConnections: 16, bodyTimeoutMs: 1_000 }, async (gate) => {
        const clients: RawClient[] = [];
        for (let i = 0; i < 4; i++) {
          const c = await openRaw(gate.port, `127.8.7.${1 + i}`);
          c.socket.write(head(i));
          clients.push(c);
        }
        await eventually(`all answered ${status}`, () =>
          clients.every((c) => statusesOf(c.received())[0] === status),
        );
        const [reset, fin, silent, trickle] = clients as [RawClient, RawClient, RawClient, RawClient];
        reset.socket.resetAndDestroy();
        fin.socket.end();
        const drip = setInterval(() => trickle.socket.writable && trickle.socket.write(dripped), 100);
        try {
          // The body clock (1 s here, plus 1 s per 500 bytes) ends the silent and the trickled one.
          await expect.poll(() => connectionsOpen(gate), { timeout: 5_000, interval: 100 }).toBe(0);
        } finally {
          clearInterval(drip);
        }
        await Promise.all([fin.closed, silent.closed, trickle.closed]);
        expect(gate.records().filter(lines).map(logged).sort()).toEqual(expected);
      });
    },
  );

  it('refuses a new connection on accept only when every connection is in a request or a tunnel, and counts it', async () => {
    const upstream = await startHostileUpstream();
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), { maxConnections: 16 });
    try {
      const busy = [];
      for (let i = 0; i < 8; i++) {
        const c = await openRaw(gate.port, `127.8.1.${1 + i}`);
        c.socket.write(GET('/hang'));
        busy.push(c);
      }
      for (let i = 0; i < 8; i++) {
        const c = await openRaw(gate.port, `127.8.2.${1 + i}`);
        c.socket.write(upgradeRequest('/ws'));
        await c.waitFor(/HTTP\/1\.1 101/);
        busy.push(c);
      }
      await sleep(100);
      const refused = await openRaw(gate.port, '127.8.3.1');
      await refused.closed;
      expect(refused.received()).toBe('');
      expect(busy.some((c) => c.isClosed())).toBe(false);
      expect(await gate.metrics.registry.metrics()).toMatch(/gatehouse_client_connections_dropped_total 1/);
      for (const c of busy) c.socket.destroy();
    } finally {
      await gate.close();
      await upstream.close();
    }
  });
});

describe('4: shutdown ends within the grace whatever clients hold', () => {
  let upstream: HostileUpstream;
  let proc: SidecarProcess;
  afterAll(async () => upstream?.close());

  it.each([['0s'], ['1s']])(
    'slow uploads, queued requests, a response nobody reads, a tunnel, a handshake in progress and an answer whose declared body never came: exit within --shutdown-grace (--shutdown-delay %s), every request logged',
    async (delay) => {
      upstream ??= await startHostileUpstream({ upgradeDelayMs: 0 });
      proc = await startSidecarProcess(
        writeConfigDir(
          applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: upstream.url, maxConnections: 2 } }),
        ),
        // the body-rate and queue timeouts (20 s, 10 s) are longer than the test
        ['--shutdown-grace', '2s', '--shutdown-delay', delay],
      );
      const clients = [];
      for (let i = 0; i < 2; i++) {
        const c = await openRaw(proc.port);
        c.socket.write(`POST /upload-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nabc`);
        clients.push(c);
      }
      await sleep(200);
      for (let i = 0; i < 3; i++) {
        const c = await openRaw(proc.port);
        c.socket.write(GET(`/queued-${i}`));
        clients.push(c);
      }
      const tunnel = await openRaw(proc.port);
      tunnel.socket.write(upgradeRequest('/ws'));
      clients.push(tunnel);
      // Answered (404) at once; the rest of its body is still to come when the shutdown begins.
      const answered = await openRaw(proc.port);
      answered.socket.write(
        'POST /.gatehouse/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nabc',
      );
      clients.push(answered);
      await answered.waitFor(/^HTTP\/1\.1 404/);
      await sleep(300);
      const started = performance.now();
      const stopping = proc.stop();
      if (delay !== '0s') {
        // Clients that come during the delay and hold on: one silent, one whose head never ends.
        await sleep(200);
        for (const head of ['', 'GET /late HTTP/1.1\r\nHost: 12']) {
          const late = await openRaw(proc.port);
          if (head) late.socket.write(head);
          clients.push(late);
        }
      }
      const code = await stopping;
      const tookMs = performance.now() - started;
      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(2_000 + 700);
      const uris = proc.lines.filter((l) => l.type === 'request').map((l) => l.uri);
      for (const uri of ['/upload-0', '/upload-1', '/queued-0', '/queued-1', '/queued-2', '/.gatehouse/nope'])
        expect(uris.filter((u) => u === uri)).toHaveLength(1);
      await answered.closed;
      expect(proc.lines.some((l) => l.type === 'sidecar_stopped')).toBe(true);
      for (const c of clients) c.socket.destroy();
    },
  );
});

describe('4: a shutdown and the refusals whose clients never close', () => {
  it('does not wait for them: each has its one line, and the sidecar exits well within its grace', async () => {
    const upstream = await startHostileUpstream();
    const proc = await startSidecarProcess(loopbackAppDir(upstream.url), ['--shutdown-grace', '5s']);
    const clients = [];
    try {
      for (const payload of [
        upgradeRequest('/.gatehouse/held'),
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
        'G@T /held HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      ]) {
        const c = await openRaw(proc.port, '127.0.5.1', true);
        c.socket.write(payload);
        await c.waitFor(/^HTTP\/1\.1 (400|405) /);
        clients.push(c);
      }
      const started = performance.now();
      expect(await proc.stop()).toBe(0);
      expect(performance.now() - started).toBeLessThan(2_500);
      const refused = proc.lines.filter((l) => l.type === 'request').map((l) => l.error);
      expect(refused.sort()).toEqual(['bad_request', 'connect_not_supported', 'upgrade_not_supported']);
    } finally {
      for (const c of clients) c.socket.destroy();
      await upstream.close();
    }
  });
});

describe('4: what a shutdown cuts leaves nothing in the kernel', () => {
  it('a download nobody reads and a WebSocket whose client trickles when the grace runs out are reset, and nothing of them stays queued after the sidecar exits; connections without a request in progress are closed', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const app = createServer((req, res) => {
      if (req.url !== '/big') {
        res.end('ok');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      feed(res, chunk, 1024); // 64 MiB
    });
    app.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => undefined);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      feed(socket, chunk);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    const proc = await startSidecarProcess(
      writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url } })),
      ['--shutdown-grace', '1s'],
    );
    try {
      const unread = await openRaw(proc.port, '127.0.4.1');
      unread.socket.write(GET('/big'));
      unread.socket.pause();
      const idle = await openRaw(proc.port, '127.0.4.2');
      idle.socket.write(GET('/small'));
      await idle.waitFor(/\r\n\r\nok$/);
      const silent = await openRaw(proc.port, '127.0.4.3'); // open when the grace runs out
      // A tunnel whose client takes a little now and then: in the middle of a span of its pace.
      const trickler = await openRaw(proc.port, '127.0.4.4');
      trickler.socket.write(upgradeRequest('/ws-feed'));
      await trickler.waitFor(/HTTP\/1\.1 101/);
      const taking = trickle(trickler, 4 * 1024, 50);
      const port = unread.socket.localPort ?? 0;
      const tunnelPort = trickler.socket.localPort ?? 0;
      await eventually(
        'the download and the feed queued in the kernel',
        () =>
          (kernelSendQueue(proc.port, port) ?? 0) > 1_000_000 &&
          (kernelSendQueue(proc.port, tunnelPort) ?? 0) > 100_000,
      );
      try {
        expect(await proc.stop()).toBe(0);
      } finally {
        clearInterval(taking);
      }
      // Closed, the connection stayed behind the process with its megabytes queued (FIN-WAIT-1).
      expect(kernelSendQueue(proc.port, port)).toBeUndefined();
      expect(kernelSendQueue(proc.port, tunnelPort)).toBeUndefined();
      trickler.socket.removeAllListeners('data');
      trickler.socket.resume();
      await trickler.closed;
      expect(trickler.reset()).toBe(true);
      expect(proc.lines.filter((l) => l.type === 'request' && l.uri === '/ws-feed')).toHaveLength(1);
      unread.socket.removeAllListeners('data'); // reads what reached it, then learns of the reset
      unread.socket.resume();
      await unread.closed;
      expect(unread.reset()).toBe(true);
      for (const quiet of [idle, silent]) {
        await quiet.closed;
        expect(quiet.reset()).toBe(false);
      }
      expect(proc.lines.filter((l) => l.type === 'request' && l.uri === '/big')).toHaveLength(1);
    } finally {
      await proc.stop();
      await new Promise((resolve) => app.close(resolve));
    }
  });
});

describe('11: the sidecar says whether the Node options its memory bound depends on are in effect', () => {
  it('as the image and the injected container start it (NODE_OPTIONS), and without', async () => {
    const dir = writeConfigDir(
      applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: 'http://127.0.0.1:9' } }),
    );
    const shipped = await startSidecarProcess(dir);
    expect(shipped.started.nodeOptions).toBe(SIDECAR_NODE_OPTIONS);
    await shipped.stop();
    expect(shipped.lines.some((l) => l.type === 'node_options_missing')).toBe(false);
    const bare = await startSidecarProcess(dir, [], { NODE_OPTIONS: '' });
    expect(bare.started.nodeOptions).toBeNull();
    await bare.waitForLine((l) => l.type === 'node_options_missing');
    await bare.stop();
  });

  it('as shipped, one V8 background thread: a burst of JIT compiles cannot take four fifths of the core from requests', async () => {
    const dir = writeConfigDir(
      applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: 'http://127.0.0.1:9' } }),
    );
    /** Threads of the process named as V8's platform workers (Node.js names them V8Worker). */
    const v8Workers = (pid: number): number =>
      readdirSync(`/proc/${pid}/task`).filter(
        (task) => readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim() === 'V8Worker',
      ).length;
    const shipped = await startSidecarProcess(dir);
    expect(v8Workers(shipped.child.pid as number)).toBe(1);
    await shipped.stop();
    const bare = await startSidecarProcess(dir, [], { NODE_OPTIONS: '' });
    expect(v8Workers(bare.child.pid as number)).toBe(4);
    await bare.stop();
  });
});
