import { once } from 'node:events';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw } from '../helpers/hostile.ts';
import { startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

type Spec = NonNullable<Parameters<typeof testConfig>[0]>;

async function setup(
  handler?: Parameters<typeof startUpstream>[0],
  spec: (url: string) => Spec = () => ({}),
) {
  const upstream = await startUpstream(handler);
  const gate = await startSidecar(testConfig({ upstream: { url: upstream.url }, ...spec(upstream.url) }));
  cleanups.push(
    () => upstream.close(),
    () => gate.close(),
  );
  return { upstream, gate };
}

function headerValues(up: TestUpstream, index: number, name: string): string[] {
  const raw = up.seen[index]?.rawHeaders ?? [];
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] as string);
  return out;
}

describe('reverse proxy', () => {
  it('forwards the canonical path, sets forwarding headers and the request id, and logs one line', async () => {
    const { upstream, gate } = await setup();
    const res = await request(`${gate.url}/a/./b/../c?x=1`, { headers: { 'user-agent': 'test-agent' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok GET /a/c?x=1');
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(headerValues(upstream, 0, 'x-request-id')).toEqual([id]);
    expect(headerValues(upstream, 0, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(headerValues(upstream, 0, 'x-forwarded-proto')).toEqual(['http']);
    expect(headerValues(upstream, 0, 'x-forwarded-host')).toEqual([`127.0.0.1:${gate.port}`]);
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({
      type: 'request',
      requestId: id,
      app: 'test-app',
      method: 'GET',
      uri: '/a/c?x=1',
      status: 200,
      outcome: 'served',
      clientIp: '127.0.0.1',
      userAgent: 'test-agent',
      identity: null,
      sessionId: null,
      authMethod: null,
      decision: { action: 'bypass', policy: 'open', rule: 'include[0].everyone', reason: 'everyone' },
    });
    expect(line?.bytesOut).toBeGreaterThan(15);
    expect(typeof line?.upstreamMs).toBe('number');
  });

  it('removes hop-by-hop headers and those named in Connection, both ways', async () => {
    const { upstream, gate } = await setup((_req, res) => {
      res.writeHead(200, {
        connection: 'x-internal, keep-alive',
        'x-internal': 'secret',
        'keep-alive': 'timeout=5',
        'x-ok': '1',
      });
      res.end('ok');
    });
    const raw = await rawRequest(
      gate.port,
      'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close, X-Drop-Me\r\nX-Drop-Me: 1\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nX-Keep: 1\r\n\r\n',
    );
    expect(statusOf(raw)).toBe(200);
    expect(raw.toLowerCase()).not.toContain('x-internal');
    expect(raw.toLowerCase()).toContain('x-ok: 1');
    for (const name of ['x-drop-me', 'proxy-connection', 'te', 'keep-alive'])
      expect(headerValues(upstream, 0, name)).toEqual([]);
    expect(headerValues(upstream, 0, 'x-keep')).toEqual(['1']);
  });

  it('never believes forwarding headers or request ids from an untrusted peer', async () => {
    const { upstream, gate } = await setup();
    const res = await request(`${gate.url}/`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-proto': 'https',
        'x-real-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'true-client-ip': '6.6.6.6',
        'x-request-id': 'attacker-chosen',
      },
    });
    await res.body.text();
    expect(headerValues(upstream, 0, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(headerValues(upstream, 0, 'x-forwarded-host')).toEqual([`127.0.0.1:${gate.port}`]);
    expect(headerValues(upstream, 0, 'x-forwarded-proto')).toEqual(['http']);
    expect(headerValues(upstream, 0, 'x-real-ip')).toEqual(['127.0.0.1']);
    expect(headerValues(upstream, 0, 'forwarded')).toEqual([]);
    expect(headerValues(upstream, 0, 'true-client-ip')).toEqual([]);
    expect(headerValues(upstream, 0, 'x-request-id')[0]).not.toBe('attacker-chosen');
    const [line] = await gate.waitForRecords(1);
    expect(line?.clientIp).toBe('127.0.0.1');
  });

  it('believes a trusted proxy: appends to X-Forwarded-For, keeps its request id, logs the real client', async () => {
    const { upstream, gate } = await setup(undefined, () => ({ trustedProxies: ['127.0.0.0/8'] }));
    const res = await request(`${gate.url}/`, {
      headers: {
        'x-forwarded-for': '6.6.6.6, 198.51.100.7',
        'x-forwarded-proto': 'https',
        'x-request-id': 'lb-123',
      },
    });
    await res.body.text();
    expect(res.headers['x-request-id']).toBe('lb-123');
    expect(headerValues(upstream, 0, 'x-forwarded-for')).toEqual(['6.6.6.6, 198.51.100.7, 127.0.0.1']);
    expect(headerValues(upstream, 0, 'x-forwarded-proto')).toEqual(['https']);
    expect(headerValues(upstream, 0, 'x-real-ip')).toEqual(['198.51.100.7']);
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ clientIp: '198.51.100.7', requestId: 'lb-123', peerIp: '127.0.0.1' });
  });

  it('reuses keep-alive connections on both sides', async () => {
    const { upstream, gate } = await setup();
    const agent = new Agent({ connections: 1 });
    cleanups.push(() => agent.close());
    for (let i = 0; i < 20; i++) {
      const res = await request(`${gate.url}/k${i}`, { dispatcher: agent });
      await res.body.text();
    }
    expect(upstream.seen).toHaveLength(20);
    expect(new Set(upstream.seen.map((s) => s.remotePort)).size).toBe(1);
    const lines = await gate.waitForRecords(20);
    expect(lines.every((l) => l.status === 200)).toBe(true);
  });

  it('streams request and response bodies (POST echo, chunked)', async () => {
    const { gate } = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    });
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await request(`${gate.url}/echo`, { method: 'POST', body });
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.equals(body)).toBe(true);
    const [line] = await gate.waitForRecords(1);
    expect(line?.bytesIn).toBeGreaterThan(body.length);
    expect(line?.bytesOut).toBeGreaterThan(body.length);
  });

  it('flushes server-sent events promptly', async () => {
    const { gate } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      setTimeout(() => res.end('data: second\n\n'), 1500);
    });
    const started = Date.now();
    const res = await request(`${gate.url}/events`);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(String(first.value)).toContain('data: first');
    expect(Date.now() - started).toBeLessThan(1000);
    for await (const _ of { [Symbol.asyncIterator]: () => iterator }) {
      // drain the rest
    }
  });

  it('answers 502 with a clear page when the upstream is down', async () => {
    const gate = await startSidecar(testConfig({ upstream: { url: 'http://127.0.0.1:9' } }));
    cleanups.push(() => gate.close());
    const json = await request(`${gate.url}/`, { headers: { accept: 'application/json' } });
    expect(json.statusCode).toBe(502);
    expect(await json.body.json()).toMatchObject({
      error: 'upstream_unavailable',
      requestId: json.headers['x-request-id'],
    });
    const html = await request(`${gate.url}/`, { headers: { accept: 'text/html' } });
    expect(html.statusCode).toBe(502);
    const page = await html.body.text();
    expect(page).toContain('502 Bad Gateway');
    expect(page).toContain(html.headers['x-request-id'] as string);
    const lines = await gate.waitForRecords(2);
    expect(lines.map((l) => [l.status, l.outcome, l.error])).toEqual([
      [502, 'upstream_error', 'upstream_unavailable'],
      [502, 'upstream_error', 'upstream_unavailable'],
    ]);
  });

  it('answers 504 when the upstream is slower than its response-headers timeout', async () => {
    const { gate } = await setup(
      (_req, res) => {
        setTimeout(() => res.end('late'), 3000);
      },
      (url) => ({ upstream: { url, timeouts: { responseHeaders: '300ms' } } }),
    );
    const res = await request(`${gate.url}/slow`);
    expect(res.statusCode).toBe(504);
    await res.body.text();
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ status: 504, outcome: 'upstream_timeout', error: 'upstream_timeout' });
  });

  it('logs a client abort mid-response and stops the upstream transfer', async () => {
    let upstreamClosed = false;
    const { gate } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'.repeat(1024)), 5);
      res.on('close', () => {
        upstreamClosed = true;
        clearInterval(timer);
      });
    });
    const controller = new AbortController();
    const res = await request(`${gate.url}/stream`, { signal: controller.signal });
    for await (const _chunk of res.body) {
      controller.abort();
      break;
    }
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ outcome: 'client_abort', status: 200 });
    await expect.poll(() => upstreamClosed).toBe(true);
  });

  it('proxies WebSocket upgrades through the same pipeline (echo), and logs the tunnel', async () => {
    const upstream = await startUpstream();
    const wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (ws, req) => {
      ws.send(`hello ${req.headers['x-request-id'] ? 'with-id' : 'no-id'}`);
      ws.on('message', (m) => ws.send(`echo:${String(m)}`));
    });
    const gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }));
    cleanups.push(
      () => upstream.close(),
      () => gate.close(),
      async () => wss.close(),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/socket?room=1`);
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(String(m)));
    await once(ws, 'open');
    ws.send('ping');
    await expect.poll(() => messages).toEqual(['hello with-id', 'echo:ping']);
    ws.close();
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ status: 101, outcome: 'upgraded', upgrade: true, uri: '/socket?room=1' });
  });

  it('relays a refused upgrade as an error and never opens a tunnel', async () => {
    const { gate } = await setup((_req, res) => {
      res.writeHead(403).end('no');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/socket`);
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(403);
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ status: 403, upgrade: true });
  });

  it('answers a handshake a policy denies with the 403 it logs, whatever the handshake accepts', async () => {
    const upstream = await startUpstream();
    const gate = await startSidecar(
      testConfig(
        { upstream: { url: upstream.url }, policies: [{ name: 'nobody' }] },
        { nobody: { decision: 'deny', include: [{ everyone: true }] } },
      ),
    );
    cleanups.push(
      () => upstream.close(),
      () => gate.close(),
    );
    // Accept: text/html asks for the access-denied page; a handshake gets no page.
    const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/socket`, { headers: { accept: 'text/html' } });
    const [, response] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(403);
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({ status: 403, upgrade: true, error: 'access_denied' });
    expect(upstream.seen).toHaveLength(0);
  });

  it('swaps config atomically: the next request uses the new upstream and the cloudflare profile', async () => {
    const { gate } = await setup();
    const other = await startUpstream((_req, res) => res.end('other'));
    cleanups.push(() => other.close());
    gate.sidecar.install(
      testConfig({
        upstream: { url: other.url },
        logging: { profile: 'cloudflare', requestHeaders: ['referer'] },
      }),
    );
    const res = await request(`${gate.url}/x?token=abc`, {
      headers: { referer: 'https://r.test/', 'user-agent': 'ua' },
    });
    expect(await res.body.text()).toBe('other');
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({
      ClientIP: '127.0.0.1',
      ClientRequestHost: `127.0.0.1:${gate.port}`,
      ClientRequestMethod: 'GET',
      ClientRequestURI: '/x?token=[REDACTED]',
      ClientRequestUserAgent: 'ua',
      EdgeResponseStatus: 200,
      RayID: res.headers['x-request-id'],
      RequestHeaders: { referer: 'https://r.test/' },
    });
    expect(typeof line?.EdgeStartTimestamp).toBe('string');
    expect(typeof line?.EdgeEndTimestamp).toBe('string');
    expect(line?.EdgeResponseBytes).toBeGreaterThan(0);
  });
});

describe("the application's header bytes", () => {
  // Many applications send a file name in UTF-8 straight in Content-Disposition. Node.js refused
  // it when Content-Length came first (it re-reads the value as a Buffer), and the client got
  // 502; a 101's headers were written as UTF-8, doubling every byte above 0x7F.
  const fileName = Buffer.from('attachment; filename="報告書-é.pdf"', 'utf8');
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1

  async function rawUpstream(): Promise<string> {
    const server = createTcpServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (head: Buffer) => {
        const text = head.toString('latin1');
        const headers = (lines: string[], extra: Buffer[]) =>
          Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'), ...extra]);
        if (/^upgrade: websocket/im.test(text)) {
          socket.write(
            headers(
              ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', 'upgrade: websocket'],
              [Buffer.from('x-name: '), fileName, Buffer.from('\r\n\r\n')],
            ),
          );
          return;
        }
        socket.end(
          headers(
            ['HTTP/1.1 200 OK', 'content-length: 2', 'connection: close'],
            [
              Buffer.from('content-disposition: '),
              fileName,
              Buffer.from('\r\nx-legacy: '),
              latin1,
              Buffer.from('\r\n\r\nok'),
            ],
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('reach the client unchanged: a UTF-8 file name after Content-Length, a Latin-1 value, and the headers of a 101', async () => {
    const gate = await startSidecar(testConfig({ upstream: { url: await rawUpstream() } }));
    cleanups.push(() => gate.close());

    const download = await openRaw(gate.port);
    download.socket.write('GET /report HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await download.closed;
    const got = Buffer.from(download.received(), 'latin1');
    expect(statusOf(download.received())).toBe(200);
    expect(
      got.includes(Buffer.concat([Buffer.from('content-disposition: '), fileName, Buffer.from('\r\n')])),
    ).toBe(true);
    expect(got.includes(Buffer.concat([Buffer.from('x-legacy: '), latin1, Buffer.from('\r\n')]))).toBe(true);
    expect(download.received()).toMatch(/^content-length: 2\r$/im);
    expect(download.received().endsWith('\r\n\r\nok')).toBe(true);

    const tunnel = await openRaw(gate.port);
    tunnel.socket.write(
      'GET /socket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await tunnel.waitFor(/\r\n\r\n/);
    const head = Buffer.from(tunnel.received(), 'latin1');
    expect(statusOf(tunnel.received())).toBe(101);
    expect(head.includes(Buffer.concat([Buffer.from('x-name: '), fileName, Buffer.from('\r\n')]))).toBe(true);
    tunnel.socket.destroy();
    const lines = await gate.waitForRecords(2);
    expect(lines.map((l) => l.status).sort()).toEqual([101, 200]);
  });
});
