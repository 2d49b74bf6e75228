import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The paths this round added to the request path, against clients that leave, go silent or
// trickle: the 403 page a person gets (a gateway page now, where it was an error), and a hostile
// traceparent. Each request gets its one log line, no socket is held past its timeout, and the
// sidecar keeps serving.

const PAGE = 'GET /admin/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n';
let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(
    testConfig(
      { upstream: { url: upstream.url }, policies: [{ name: 'fine' }, { name: 'no-admin' }] },
      {
        fine: { decision: 'bypass', include: [{ paths: ['/fine'] }] },
        'no-admin': { decision: 'deny', include: [{ paths: ['/admin/**'] }] },
      },
    ),
    { headersTimeoutMs: 500 },
  );
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

const deniedLines = () => gate.records().filter((r) => r.status === 403 || r.error === 'access_denied');

async function stillServes(): Promise<void> {
  const res = await request(`${gate.url}/fine`);
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

describe('the 403 page against hostile clients', () => {
  it('is a page for a person: the application, not signed in, the request id', async () => {
    const client = await openRaw(gate.port);
    client.socket.write(`${PAGE}Connection: close\r\n\r\n`);
    const text = await client.waitFor(/<\/html>/);
    expect(statusesOf(text)).toEqual([403]);
    expect(text).toContain('You are not signed in.');
    await client.closed;
  });

  it('RST right after the request: one line, no response needed, still serving', async () => {
    const before = deniedLines().length;
    const client = await openRaw(gate.port);
    client.socket.write(`${PAGE}\r\n`);
    client.socket.resetAndDestroy();
    await client.closed;
    await expect.poll(() => deniedLines().length, { timeout: 2000 }).toBe(before + 1);
    await stillServes();
  });

  it('FIN after the request (half-close): the page is still written, then the connection ends', async () => {
    const client = await openRaw(gate.port);
    client.socket.end(`${PAGE}\r\n`);
    const text = await client.waitFor(/<\/html>/);
    expect(statusesOf(text)).toEqual([403]);
    await client.closed;
  });

  it('trickled head, a byte at a time within the timeout: answered', async () => {
    const client = await openRaw(gate.port);
    const head = `${PAGE}Connection: close\r\n\r\n`;
    for (const ch of head.slice(0, 40)) {
      client.socket.write(ch);
      await new Promise((r) => setTimeout(r, 5));
    }
    client.socket.write(head.slice(40));
    expect(statusesOf(await client.waitFor(/<\/html>/))).toEqual([403]);
  });

  it('silence after part of the head: 408 at the header timeout, the socket released', async () => {
    const client = await openRaw(gate.port);
    client.socket.write(PAGE);
    expect(await client.until(() => client.isClosed(), 3000)).toBe(true);
    expect(statusesOf(client.received())).toEqual([408]);
    await stillServes();
  });

  it('pipelined denied requests on one keep-alive connection: one page and one line each', async () => {
    const before = deniedLines().length;
    const client = await openRaw(gate.port);
    client.socket.write(`${`${PAGE}\r\n`.repeat(20)}${PAGE}Connection: close\r\n\r\n`);
    await client.closed;
    expect(statusesOf(client.received())).toEqual(Array(21).fill(403));
    await expect.poll(() => deniedLines().length, { timeout: 2000 }).toBe(before + 21);
  });

  it('a hostile traceparent (huge, repeated, malformed) never breaks the request', async () => {
    const client = await openRaw(gate.port);
    const junk = `traceparent: 00-${'f'.repeat(4000)}-00f067aa0ba902b7-01\r\n`.repeat(3);
    client.socket.write(`GET /fine HTTP/1.1\r\nHost: 127.0.0.1\r\n${junk}Connection: close\r\n\r\n`);
    await client.closed;
    expect(statusesOf(client.received())).toEqual([200]);
    const sent = upstream.seen.at(-1)?.headers.traceparent;
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
