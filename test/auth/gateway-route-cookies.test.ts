import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { dial, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The gateway's own routes (sign-in, sign-out) need to know who is signed in, nothing more: they
// must not wait for the provider to refresh the session, nor renew its cookie. A sign-out waited
// for the refresh the provider held (10 s, the provider timeout), and its answer, after deleting
// the session cookie, set it again (the refreshed or renewed session): the browser kept a cookie
// of the session it had signed out of. And a sign-in finished by a browser still sending a session
// cookie the sidecar could not read got its new session cookie first and that cookie's deletion
// after it: the browser was left signed out. The built sidecar, as shipped.

let upstream: TestUpstream;
let provider: ForgedProvider;
let gateway: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream();
  provider = await startForgedProvider('gatehouse');
  provider.forgery = 'refresh_hangs'; // provider tokens due in a second; refreshes held
  // Unused for 2 s, a session's cookie is renewed (a quarter of the idle timeout).
  gateway = await startSignInSidecar(provider.issuer, upstream.url, [], { idleTimeout: '8s' });
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Sends one request on a new connection from `from`; its answer head (status, Set-Cookie lines) and time. */
async function send(from: string, head: string) {
  const socket = await dial(gateway.port, from);
  if (!socket) throw new Error('cannot connect');
  const client = watchSocket(socket);
  const began = performance.now();
  socket.write(`${head}Host: ${gateway.host}\r\nConnection: close\r\n\r\n`);
  const text = await client.waitFor(/\r\n\r\n/, 15_000);
  const setCookies = [...text.matchAll(/^set-cookie: ([^\r]*)/gim)].map((m) => m[1] as string);
  return { status: statusesOf(text)[0], setCookies, ms: performance.now() - began };
}

/** The Set-Cookie lines that give the session cookie a value (its deletions have none). */
const sessionValues = (setCookies: string[]) => setCookies.filter((c) => /^_gatehouse(_\d+)?=[^;]/.test(c));

const signOut = (from: string, cookie: string) =>
  send(
    from,
    `POST /.gatehouse/logout HTTP/1.1\r\nOrigin: http://${gateway.host}\r\nCookie: ${cookie}\r\nContent-Length: 0\r\n`,
  );

describe('the gateway\u2019s routes with a session due for a refresh', () => {
  it('a sign-out: answered at once, the provider not asked, the session cookie deleted and not set again', async () => {
    const cookie = await gateway.signIns.complete('127.0.0.10');
    await sleep(2_500); // the provider tokens are due, and the cookie for renewal
    const refreshesBefore = provider.hits.get('/token') ?? 0;
    const out = await signOut('127.0.0.10', cookie);
    expect(out.status).toBe(303);
    expect(out.ms).toBeLessThan(1_000);
    expect(provider.hits.get('/token') ?? 0).toBe(refreshesBefore);
    expect(out.setCookies.some((c) => /^_gatehouse=;.*Max-Age=0/i.test(c))).toBe(true);
    expect(sessionValues(out.setCookies)).toEqual([]);
    const line = await gateway.process.waitForLine((l) => l.type === 'logout' && l.clientIp === '127.0.0.10');
    expect(line.sessionId).toBeTypeOf('string');
  });

  it('a sign-out of a session due only for its cookie\u2019s renewal: the cookie deleted, not set again', async () => {
    provider.forgery = 'valid'; // provider tokens for an hour: no refresh
    try {
      const cookie = await gateway.signIns.complete('127.0.0.13');
      await sleep(2_500); // unused for a quarter of the idle timeout
      const out = await signOut('127.0.0.13', cookie);
      expect(out.status).toBe(303);
      expect(out.setCookies.some((c) => /^_gatehouse=;.*Max-Age=0/i.test(c))).toBe(true);
      expect(sessionValues(out.setCookies)).toEqual([]);
    } finally {
      provider.forgery = 'refresh_hangs';
    }
  });

  it('the sign-in page of a browser signed in: back to the application at once, no refresh, no cookie', async () => {
    const cookie = await gateway.signIns.complete('127.0.0.11');
    await sleep(2_500);
    const refreshesBefore = provider.hits.get('/token') ?? 0;
    const out = await send('127.0.0.11', `GET /.gatehouse/login?rd=/wiki HTTP/1.1\r\nCookie: ${cookie}\r\n`);
    expect(out.status).toBe(302);
    expect(out.ms).toBeLessThan(1_000);
    expect(provider.hits.get('/token') ?? 0).toBe(refreshesBefore);
    expect(out.setCookies).toEqual([]);
  });

  it('a request to the application still refreshes the session (the provider asked, the request waits)', async () => {
    const cookie = await gateway.signIns.complete('127.0.0.12');
    await sleep(2_100);
    const refreshesBefore = provider.hits.get('/token') ?? 0;
    const socket = await dial(gateway.port, '127.0.0.12');
    if (!socket) throw new Error('cannot connect');
    const client = watchSocket(socket);
    socket.write(
      `GET /wiki HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    );
    await client.until(() => (provider.hits.get('/token') ?? 0) > refreshesBefore, 3_000);
    expect(provider.hits.get('/token') ?? 0).toBe(refreshesBefore + 1);
    expect(client.received()).toBe('');
    expect(provider.tokenRequests.releaseRefreshes()).toBe(1);
    const text = await client.waitFor(/\r\n\r\n/);
    expect(statusesOf(text)[0]).toBe(200);
    expect(
      sessionValues([...text.matchAll(/^set-cookie: ([^\r]*)/gim)].map((m) => m[1] as string)),
    ).toHaveLength(1);
  });
});

describe('a sign-in finished by a browser still sending a session cookie the sidecar cannot read', () => {
  it('the new session cookie comes after the deletion of the old one, so the browser keeps it', async () => {
    provider.forgery = 'valid';
    try {
      const from = '127.0.0.15';
      const signIn = await gateway.signIns.start(from);
      const authorize = await fetch(signIn.location, { redirect: 'manual' });
      const back = new URL(authorize.headers.get('location') ?? '');
      // A cookie sealed under a key since removed, or garbled: deleted by the answer.
      const out = await send(
        from,
        `GET ${back.pathname}${back.search} HTTP/1.1\r\nCookie: ${signIn.cookie}; _gatehouse=stale-or-garbled\r\n`,
      );
      expect(out.status).toBe(302);
      const session = out.setCookies.filter((c) => c.startsWith('_gatehouse='));
      // Set-Cookie lines are applied in order: the last one for the name is what the browser keeps.
      expect(session.length).toBeGreaterThanOrEqual(2);
      expect(sessionValues([session.at(-1) as string])).toHaveLength(1);
    } finally {
      provider.forgery = 'refresh_hangs';
    }
  });
});
