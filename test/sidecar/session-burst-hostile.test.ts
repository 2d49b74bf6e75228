import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { TEST_KEYS, testConfig } from '../helpers/fixtures.ts';
import { openRaw, type RawClient, statusesOf } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { testSession } from '../helpers/test-session.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// Requests that bring the same session cookie while it is being unsealed (and its identity JWT
// signed) now wait on one shared operation. Clients that reset, half-close, go silent or trickle
// while others wait on it must not take the shared work down with them: the ones that stay get
// their answer, each request gets its one line, and the sidecar keeps serving.

let upstream: TestUpstream;
let gate: InProcessSidecar;
const sealer = createSealer(TEST_KEYS('ES256').cookie);

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(
    testConfig(
      {
        upstream: { url: upstream.url },
        policies: [{ name: 'staff' }],
        authentication: {
          externalUrl: 'http://127.0.0.1',
          // Never contacted: the sessions of this test are sealed here, as a sign-in would.
          identityProviders: [{ name: 'corp', issuer: 'http://127.0.0.1:9/', clientId: 'test' }],
        },
      },
      { staff: { decision: 'allow', include: [{ groups: ['staff'] }] } },
    ),
    { headersTimeoutMs: 500 },
  );
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

/** A cookie of a session this sidecar has not seen yet, so its first requests share the unsealing. */
async function freshCookie(sid: string): Promise<string> {
  return `_gatehouse=${await sealer.seal('session', testSession(sid, 3600, ['staff']))}`;
}

const head = (cookie: string, path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n`;

async function stillServes(cookie: string): Promise<void> {
  const res = await request(`${gate.url}/after`, { headers: { cookie } });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

describe('a burst of one new session against hostile clients', () => {
  it('RST and FIN while the shared unsealing runs: those that stay are served, one line each', async () => {
    const cookie = await freshCookie('burst-1');
    const before = gate.records().length;
    const clients: RawClient[] = await Promise.all(Array.from({ length: 30 }, () => openRaw(gate.port)));
    // All thirty heads leave in the same turn; ten reset at once, five half-close after their head.
    for (const [i, c] of clients.entries())
      c.socket.write(`${head(cookie, `/b${i}`)}${i >= 25 ? '' : 'Connection: close\r\n'}\r\n`);
    for (const c of clients.slice(0, 10)) c.socket.resetAndDestroy();
    for (const c of clients.slice(25)) c.socket.end();
    const stayed = clients.slice(10);
    const texts = await Promise.all(stayed.map((c) => c.waitFor(/ok GET \/b\d+/)));
    for (const text of texts) expect(statusesOf(text)).toEqual([200]);
    await Promise.all(stayed.map((c) => c.closed));
    // A reset can reach the sidecar before it reads the head (the kernel then drops the unread
    // bytes, and a connection that never delivered a request has no line); the rest get one each.
    await expect.poll(() => gate.records().length, { timeout: 3000 }).toBeGreaterThanOrEqual(before + 20);
    await new Promise((r) => setTimeout(r, 200));
    const lines = gate.records().slice(before);
    expect(lines.length).toBeLessThanOrEqual(30);
    const served = lines.filter((l) => l.status === 200);
    expect(served).toHaveLength(20);
    for (const l of served) expect(l.sessionId).toBe('burst-1');
    for (const l of lines.filter((l) => l.status !== 200)) expect(l.outcome).toBe('client_abort');
    await stillServes(cookie);
  });

  it('a head left silent and one trickled byte by byte while the burst is served: a 408 line, a 200', async () => {
    const cookie = await freshCookie('burst-2');
    const before = gate.records().length;
    const silent = await openRaw(gate.port);
    silent.socket.write(head(cookie, '/silent')); // no final CRLF: the head never ends
    const slow = await openRaw(gate.port);
    const burst = Array.from({ length: 20 }, () => request(`${gate.url}/burst`, { headers: { cookie } }));
    const bytes = Buffer.from(`${head(cookie, '/slow')}Connection: close\r\n\r\n`);
    for (let i = 0; i < bytes.length; i += 16) {
      slow.socket.write(bytes.subarray(i, i + 16));
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const res of await Promise.all(burst)) {
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    expect(statusesOf(await slow.waitFor(/ok GET \/slow/))).toEqual([200]);
    expect(statusesOf(await silent.waitFor(/HTTP\/1\.1 408/))).toEqual([408]);
    await silent.closed;
    await expect.poll(() => gate.records().length, { timeout: 3000 }).toBe(before + 22);
    const lines = gate.records().slice(before);
    expect(lines.filter((l) => l.status === 200 && l.sessionId === 'burst-2')).toHaveLength(21);
    expect(lines.filter((l) => l.status === 408)).toHaveLength(1);
    await stillServes(cookie);
  });
});
