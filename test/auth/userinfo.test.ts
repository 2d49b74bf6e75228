import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaErrors } from '../../contract/api/validate.ts';
import { UserinfoDocument } from '../../contract/userinfo.ts';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { dial, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import { headerOf, type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// GET /.gatehouse/userinfo: the caller's identity as JSON, for an application's own scripts and
// for a user asking why a page refuses them. The built sidecar, as shipped, over raw sockets.

let upstream: TestUpstream;
let provider: ForgedProvider;
let gateway: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream();
  provider = await startForgedProvider('gatehouse');
  provider.forgery = 'valid'; // provider tokens for an hour: no refresh in these tests
  // An idle timeout of 4 s: a request renews the session's cookie after 1 s of no use.
  gateway = await startSignInSidecar(provider.issuer, upstream.url, [], { idleTimeout: '4s' });
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

interface Answer {
  readonly status: number | undefined;
  readonly head: string;
  readonly body: string;
  readonly setCookies: string[];
}

/** One request on a new connection from `from`, read to its close. */
async function send(from: string, head: string): Promise<Answer> {
  const socket = await dial(gateway.port, from);
  if (!socket) throw new Error('cannot connect');
  const client = watchSocket(socket);
  socket.write(`${head}Host: ${gateway.host}\r\nConnection: close\r\n\r\n`);
  await client.closed;
  const text = client.received();
  const split = text.indexOf('\r\n\r\n');
  return {
    status: statusesOf(text)[0],
    head: text.slice(0, split),
    body: text.slice(split + 4),
    setCookies: [...text.matchAll(/^set-cookie: ([^\r]*)/gim)].map((m) => m[1] as string),
  };
}

const userinfo = (from: string, cookie?: string, more = '') =>
  send(from, `GET /.gatehouse/userinfo HTTP/1.1\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}${more}`);

/** The Set-Cookie lines that give the session cookie a value (its deletions have none). */
const sessionValues = (setCookies: string[]) => setCookies.filter((c) => /^_gatehouse(_\d+)?=[^;]/.test(c));

describe('GET /.gatehouse/userinfo', () => {
  it('a signed-in user: who the application is told they are, and when the session ends', async () => {
    const from = '127.0.0.20';
    const before = Date.now();
    const cookie = await gateway.signIns.complete(from);
    const login = await gateway.process.waitForLine(
      (l) => l.type === 'login_succeeded' && l.clientIp === from,
    );
    const seenBefore = upstream.seen.length;
    const out = await userinfo(from, cookie);
    expect(out.status).toBe(200);
    expect(headerOf(out.head, 'content-type')).toBe('application/json');
    expect(headerOf(out.head, 'cache-control')).toBe('no-store');
    expect(headerOf(out.head, 'x-content-type-options')).toBe('nosniff');
    expect(out.setCookies).toEqual([]);
    const document = JSON.parse(out.body) as Record<string, unknown>;
    // The contract the docs' table comes from: every field, nothing more.
    expect(schemaErrors(UserinfoDocument, document, 'userinfo')).toEqual([]);
    expect(document).toMatchObject({
      sub: 'mallory',
      email: 'mallory@example.com',
      groups: ['engineering'],
      idp: 'corp',
      kind: 'user',
      sid: login.sessionId,
      groupsLeftOut: false,
      // The forged provider said nothing of when or how the user authenticated.
      authenticatedAt: null,
      amr: null,
      acr: null,
    });
    expect(Object.keys(document).sort()).toEqual(
      [
        'sub',
        'email',
        'preferred_username',
        'groups',
        'idp',
        'kind',
        'sid',
        'signedInAt',
        'expiresAt',
        'idleExpiresAt',
        'authenticatedAt',
        'amr',
        'acr',
        'groupsLeftOut',
      ].sort(),
    );
    const signedInAt = Date.parse(document.signedInAt as string);
    expect(signedInAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    // The absolute lifetime (12 hours by default) and the idle timeout (4 s) from the sign-in.
    expect(Date.parse(document.expiresAt as string) - signedInAt).toBe(12 * 3600 * 1000);
    expect(Date.parse(document.idleExpiresAt as string) - signedInAt).toBe(4_000);
    // Answered by the gateway: the application saw nothing, and the request has its line.
    expect(upstream.seen.length).toBe(seenBefore);
    const line = await gateway.process.waitForLine(
      (l) => l.type === 'request' && l.uri === '/.gatehouse/userinfo' && l.clientIp === from,
    );
    expect(line).toMatchObject({ status: 200, outcome: 'gateway', sessionId: login.sessionId });
  });

  it('asking does not keep an idle session alive: the application’s requests renew it, userinfo does not', async () => {
    const from = '127.0.0.21';
    const cookie = await gateway.signIns.complete(from);
    const first = JSON.parse((await userinfo(from, cookie)).body) as { idleExpiresAt: string };
    await sleep(1_300); // past the renewal interval (a quarter of the idle timeout)
    const again = await userinfo(from, cookie);
    expect(sessionValues(again.setCookies)).toEqual([]);
    expect(JSON.parse(again.body)).toMatchObject({ idleExpiresAt: first.idleExpiresAt });
    // A page of the application is activity: its answer renews the cookie, and userinfo says so.
    const page = await send(from, `GET /wiki HTTP/1.1\r\nCookie: ${cookie}\r\n`);
    expect(page.status).toBe(200);
    const renewed = sessionValues(page.setCookies).map((c) => c.split(';')[0] as string);
    expect(renewed).toHaveLength(1);
    const later = JSON.parse((await userinfo(from, renewed.join('; '))).body) as { idleExpiresAt: string };
    expect(Date.parse(later.idleExpiresAt)).toBeGreaterThan(Date.parse(first.idleExpiresAt));
    // Only userinfo from then on: the session ends at its idle timeout.
    let last: Answer | undefined;
    for (let i = 0; i < 6; i++) {
      await sleep(1_000);
      last = await userinfo(from, renewed.join('; '));
      expect(sessionValues(last.setCookies)).toEqual([]);
      if (last.status === 401) break;
    }
    expect(last?.status).toBe(401);
    expect(last?.setCookies.some((c) => /^_gatehouse=;.*Max-Age=0/i.test(c))).toBe(true);
    await gateway.process.waitForLine(
      (l) => l.type === 'session_expired' && l.reason === 'idle_timeout' && l.clientIp === from,
    );
  });

  it('without a session: 401 JSON naming the sign-in, never a redirect, also for a page navigation', async () => {
    for (const accept of ['application/json', 'text/html,application/xhtml+xml']) {
      const out = await userinfo(
        '127.0.0.22',
        undefined,
        `Accept: ${accept}\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n`,
      );
      expect(out.status).toBe(401);
      expect(headerOf(out.head, 'location')).toBeUndefined();
      expect(headerOf(out.head, 'content-type')).toBe('application/json');
      expect(headerOf(out.head, 'www-authenticate')).toBe('Bearer realm="gatehouse"');
      expect(JSON.parse(out.body)).toMatchObject({
        error: 'authentication_required',
        login: '/.gatehouse/login',
      });
    }
  });

  it('a user the policies refuse still learns who they are signed in as', async () => {
    provider.claims = { groups: ['sales'] };
    try {
      const from = '127.0.0.23';
      const cookie = await gateway.signIns.complete(from);
      const page = await send(
        from,
        `GET /wiki HTTP/1.1\r\nCookie: ${cookie}\r\nAccept: application/json\r\n`,
      );
      expect(page.status).toBe(403);
      const out = await userinfo(from, cookie);
      expect(out.status).toBe(200);
      expect(JSON.parse(out.body)).toMatchObject({ sub: 'mallory', groups: ['sales'] });
    } finally {
      provider.claims = {};
    }
  });

  it('a signed-out session: 401 and its cookie deleted', async () => {
    const from = '127.0.0.24';
    const cookie = await gateway.signIns.complete(from);
    const out = await send(
      from,
      `POST /.gatehouse/logout HTTP/1.1\r\nOrigin: http://${gateway.host}\r\nCookie: ${cookie}\r\nContent-Length: 0\r\n`,
    );
    expect(out.status).toBe(303);
    const replay = await userinfo(from, cookie);
    expect(replay.status).toBe(401);
    expect(replay.setCookies.some((c) => /^_gatehouse=;.*Max-Age=0/i.test(c))).toBe(true);
  });

  it('only GET and HEAD: HEAD has the head alone, a POST is 404', async () => {
    const from = '127.0.0.25';
    const cookie = await gateway.signIns.complete(from);
    const head = await send(from, `HEAD /.gatehouse/userinfo HTTP/1.1\r\nCookie: ${cookie}\r\n`);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const post = await send(
      from,
      `POST /.gatehouse/userinfo HTTP/1.1\r\nCookie: ${cookie}\r\nContent-Length: 0\r\n`,
    );
    expect(post.status).toBe(404);
  });
});

describe('GET /.gatehouse/: the session page', () => {
  it('a signed-in user: who, through what, the groups, when the session ends, its id and the ways to sign out', async () => {
    const from = '127.0.0.30';
    const cookie = await gateway.signIns.complete(from);
    const login = await gateway.process.waitForLine(
      (l) => l.type === 'login_succeeded' && l.clientIp === from,
    );
    const seenBefore = upstream.seen.length;
    const out = await send(from, `GET /.gatehouse/ HTTP/1.1\r\nCookie: ${cookie}\r\nAccept: text/html\r\n`);
    expect(out.status).toBe(200);
    expect(headerOf(out.head, 'content-security-policy')).toContain("default-src 'none'");
    expect(headerOf(out.head, 'x-frame-options')).toBe('DENY');
    expect(headerOf(out.head, 'cache-control')).toBe('no-store');
    expect(out.setCookies).toEqual([]);
    expect(out.body).toContain('<strong>mallory@example.com</strong>');
    expect(out.body).toContain('<code>engineering</code>');
    expect(out.body).toContain(`<code>${login.sessionId}</code>`);
    expect(out.body).toContain('formaction="/.gatehouse/logout?everywhere=1"');
    expect(out.body).toContain('href="/.gatehouse/userinfo"');
    expect(upstream.seen.length).toBe(seenBefore);
  });

  it('group names and a subject written to break out of the page stay text', async () => {
    provider.claims = { groups: ['<script>alert(1)</script>', 'a" onmouseover="x'] };
    try {
      const from = '127.0.0.31';
      const cookie = await gateway.signIns.complete(from);
      const out = await send(from, `GET /.gatehouse/ HTTP/1.1\r\nCookie: ${cookie}\r\n`);
      expect(out.status).toBe(200);
      expect(out.body).not.toContain('<script>');
      expect(out.body).toContain('<code>&#60;script&#62;alert(1)&#60;/script&#62;</code>');
      expect(out.body).toContain('<code>a&#34; onmouseover=&#34;x</code>');
    } finally {
      provider.claims = {};
    }
  });

  it('not signed in: told so with a link to sign in, not redirected', async () => {
    const out = await send(
      '127.0.0.32',
      'GET /.gatehouse/ HTTP/1.1\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\n',
    );
    expect(out.status).toBe(200);
    expect(headerOf(out.head, 'location')).toBeUndefined();
    expect(out.body).toContain('You are not signed in to this application.');
    expect(out.body).toContain('href="/.gatehouse/login?rd=%2F"');
  });
});

describe('userinfo against hostile clients', () => {
  it('30 pipelined on one connection are each answered, in order; resets mid-request leave the sidecar serving', async () => {
    const from = '127.0.0.26';
    const cookie = await gateway.signIns.complete(from);
    const socket = await dial(gateway.port, from);
    if (!socket) throw new Error('cannot connect');
    const client = watchSocket(socket);
    const one = `GET /.gatehouse/userinfo HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\n\r\n`;
    // 30: under the 32 unanswered requests a connection may have (docs/sidecar.md, Pipelining).
    socket.write(one.repeat(29) + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    await client.closed;
    expect(statusesOf(client.received())).toEqual(Array(30).fill(200));
    expect(client.received().match(/"sub":"mallory"/g)?.length).toBe(30);
    // Cut mid-head and reset; reset right after a whole request, before its answer.
    for (const cut of [one.slice(0, 40), one]) {
      const s = await dial(gateway.port, from);
      if (!s) throw new Error('cannot connect');
      s.write(cut);
      await sleep(20);
      s.resetAndDestroy();
    }
    const after = await userinfo(from, cookie);
    expect(after.status).toBe(200);
  });

  it('a request then FIN is answered and closed; a head trickled in pieces is still read; silence mid-head is cut', async () => {
    const from = '127.0.0.27';
    const cookie = await gateway.signIns.complete(from);
    const one = `GET /.gatehouse/userinfo HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\n\r\n`;
    // FIN right after the request (a client that half-closes): the answer still comes, then the close.
    const fin = await dial(gateway.port, from, true);
    if (!fin) throw new Error('cannot connect');
    const finned = watchSocket(fin);
    fin.end(one);
    await finned.waitFor(/"sub":"mallory"/, 5_000);
    expect(statusesOf(finned.received())).toEqual([200]);
    expect(await finned.until(() => finned.isClosed(), 5_000)).toBe(true);
    // Eight bytes every few milliseconds, well within the head's time (and the session's 4 s idle
    // timeout): answered as any other.
    const slow = await dial(gateway.port, from);
    if (!slow) throw new Error('cannot connect');
    const trickled = watchSocket(slow);
    for (let i = 0; i < one.length; i += 8) {
      slow.write(one.slice(i, i + 8));
      await sleep(2);
    }
    await trickled.waitFor(/"sub":"mallory"/, 5_000);
    slow.destroy();
    // Half a head and then nothing: the header timeout answers 408 and closes (the route never runs).
    const silent = await dial(gateway.port, from);
    if (!silent) throw new Error('cannot connect');
    const quiet = watchSocket(silent);
    silent.write(one.slice(0, 60));
    await quiet.waitFor(/HTTP\/1\.1 408/, 20_000);
    expect(await quiet.until(() => quiet.isClosed(), 5_000)).toBe(true);
    // Still serving (a new sign-in: the 4 s idle timeout ended the first session meanwhile).
    expect((await userinfo(from, await gateway.signIns.complete(from))).status).toBe(200);
  }, 30_000);
});
