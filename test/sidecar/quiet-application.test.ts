import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw, type RawClient, sleep, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The client idle limit (--client-idle-timeout, 60 s as shipped) cut every answer the application
// took longer than that to make, or to go on with: a long poll (a blocking query, a job's status),
// or an event stream, a log that follows a pod, quiet between two events. It cut them even with
// the application's own timeouts set for it (responseHeaders over 60 s, idle: 0s "for long-lived
// streams"), and blamed the client (client_timeout). While the application makes its answer and
// the client has taken every byte of it sent so far, the application's timeouts bound the wait.
// Here the client idle limit is 0.7 s and the application is quiet for 1.8 s.

const IDLE_MS = 700;
const QUIET_MS = 1_800;

let upstream: TestUpstream;
let gate: InProcessSidecar;
const clients: RawClient[] = [];
/** Answers held by the application (by path), for the tests that end them. */
const held = new Map<string, ServerResponse>();

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const path = req.url ?? '';
    if (path.startsWith('/poll')) setTimeout(() => res.end('answered'), QUIET_MS);
    else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.end('data: two\n\n'), QUIET_MS);
    } else if (path === '/upload')
      req.pause(); // reads nothing, answers nothing
    else if (path === '/big') {
      const chunk = Buffer.alloc(64 * 1024, 97);
      let sent = 0;
      const more = (): void => {
        while (sent < 400) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    } else held.set(path, res);
  });
  gate = await startSidecar(
    testConfig({ upstream: { url: upstream.url, timeouts: { responseHeaders: '3s', idle: '0s' } } }),
    { idleTimeoutMs: IDLE_MS },
  );
});
afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  for (const res of held.values()) res.destroy();
  await gate.close();
  await upstream.close();
});

async function send(text: string): Promise<RawClient> {
  const client = await openRaw(gate.port);
  clients.push(client);
  client.socket.write(text);
  return client;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

describe('an application quiet for longer than the client idle limit', () => {
  it('a long poll gets its answer', async () => {
    const client = await send(get('/poll'));
    await client.waitFor(/answered$/, QUIET_MS + 2_000);
    expect(statusesOf(client.received())).toEqual([200]);
    expect(client.isClosed()).toBe(false);
    const line = (await gate.waitForRecords(1)).find((l) => l.uri === '/poll');
    expect(line).toMatchObject({ status: 200, outcome: 'served', error: null });
  });

  it('an event stream gets the event after the quiet', async () => {
    const client = await send(get('/events'));
    await client.waitFor(/data: one/, 2_000);
    await client.waitFor(/data: two/, QUIET_MS + 2_000);
    expect(client.isClosed()).toBe(false);
  });

  it('an upload the application does not read ends at its response timeout, as the application’s', async () => {
    const client = await send(
      `POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`,
    );
    client.socket.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024);
    const pump = (): void => {
      while (!client.socket.destroyed)
        if (!client.socket.write(chunk)) return void client.socket.once('drain', pump);
    };
    pump();
    await client.waitFor(/HTTP\/1\.1 504/, 8_000);
    const line = gate.records().find((l) => l.uri === '/upload');
    expect(line).toMatchObject({ status: 504, outcome: 'upstream_timeout', error: 'upstream_timeout' });
  });

  it('a client that resets while it waits ends with a 499 line', async () => {
    const client = await send(get('/poll-reset'));
    await sleep(IDLE_MS + 300);
    client.socket.resetAndDestroy();
    await sleep(QUIET_MS);
    expect(gate.records().find((l) => l.uri === '/poll-reset')).toMatchObject({
      status: 499,
      outcome: 'client_abort',
    });
  });

  it('a client that half-closes while it waits still gets the answer (RFC 9112 §9.6)', async () => {
    const client = await send(get('/poll-fin'));
    await sleep(IDLE_MS + 300);
    client.socket.end();
    await client.waitFor(/answered$/, QUIET_MS + 1_000);
    await sleep(100);
    expect(gate.records().find((l) => l.uri === '/poll-fin')).toMatchObject({
      status: 200,
      outcome: 'served',
    });
  });

  it('a client that takes nothing of an answer is still cut at the client idle limit', async () => {
    const client = await send(get('/big'));
    client.socket.pause();
    const line = await (async () => {
      const deadline = performance.now() + 5_000;
      while (performance.now() < deadline) {
        const found = gate.records().find((l) => l.uri === '/big');
        if (found) return found;
        await sleep(50);
      }
      return undefined;
    })();
    expect(line).toMatchObject({ status: 200, outcome: 'client_timeout' });
    expect(line?.durationMs as number).toBeLessThan(IDLE_MS * 3 + 500);
  });
});

describe('a client quiet while the application answers', () => {
  it.each([
    ['goes silent mid-body', false],
    ['trickles its body', true],
  ])(
    '%s: still cut (silence by the idle limit with the body clock off, a trickle by the body clock)',
    async (_, trickle) => {
      // The body clock off (--client-body-timeout 0s): only the idle limit ends a silent body.
      const app = await startUpstream((req) => req.resume()); // reads the body, answers nothing
      const strict = await startSidecar(testConfig({ upstream: { url: app.url } }), {
        idleTimeoutMs: IDLE_MS,
        bodyTimeoutMs: trickle ? 1_000 : 0,
      });
      const client = await openRaw(strict.port);
      clients.push(client);
      client.socket.write(
        'POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789',
      );
      const drip = trickle ? setInterval(() => client.socket.write('x'), 300) : undefined;
      const cut = await client.until(() => client.isClosed(), IDLE_MS * 4);
      clearInterval(drip);
      expect(cut).toBe(true);
      const line = strict.records().find((l) => l.uri === '/upload');
      expect(line).toMatchObject({ outcome: 'client_timeout' });
      await strict.close();
      await app.close();
    },
  );
});

describe('at shutdown', () => {
  it('an answer still awaited when the grace ends is cut with its line', async () => {
    const app = await startUpstream(() => undefined); // never answers
    const stopping = await startSidecar(
      testConfig({ upstream: { url: app.url, timeouts: { responseHeaders: '30s' } } }),
      { idleTimeoutMs: 300 },
    );
    const client = await openRaw(stopping.port);
    clients.push(client);
    client.socket.write(get('/waiting'));
    await sleep(800); // past the client idle limit: still waiting
    expect(client.isClosed()).toBe(false);
    const started = performance.now();
    await stopping.sidecar.shutdown(1_000);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(await client.until(() => client.isClosed(), 1_000)).toBe(true);
    const line = stopping.records().find((l) => l.uri === '/waiting');
    expect(line?.status).toBeGreaterThanOrEqual(499);
    await stopping.close();
    await app.close();
  });
});
