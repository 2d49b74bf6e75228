import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { dial, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import {
  getSignedIn as get,
  headerOf,
  type SignInSidecar,
  signInAgain,
  startSignInSidecar,
} from '../helpers/raw-sign-in.ts';
import { adminAreaAsksRecentSignIn } from '../helpers/recent-sign-in-policies.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// How and when the user authenticated, as the provider tells it (`amr`, `acr`, `auth_time` of the
// ID token), are facts policies may require: the built sidecar, as shipped, signed in to over raw
// sockets, against a provider that authenticates anew when `max_age` asks it to.

const now = () => Math.floor(Date.now() / 1000);
const PAGE = 'Accept: text/html\r\nConnection: close\r\n';

let upstream: TestUpstream;
/** The claims of the identity JWT the application got with its last request (the signature aside). */
const lastJwtClaims = (): Record<string, unknown> => {
  const jwt = String(upstream.seen.at(-1)?.headers['x-gatehouse-jwt-assertion']);
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
};

let provider: ForgedProvider;
let gateway: SignInSidecar;
/** An application whose admin area asks for an authentication within 5 minutes. */
let recent: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream();
  provider = await startForgedProvider('gatehouse');
  gateway = await startSignInSidecar(
    provider.issuer,
    upstream.url,
    [],
    {},
    {
      // The documented example: engineers, with a second factor recorded by the provider.
      'engineers-mfa': {
        decision: 'allow',
        include: [{ groups: ['engineering'] }],
        require: [{ claim: { name: 'amr', contains: 'mfa' } }],
      },
      'phishing-resistant': {
        decision: 'allow',
        include: [{ claim: { name: 'acr', equals: 'phr' } }],
      },
    },
  );
  recent = await startSignInSidecar(provider.issuer, upstream.url, [], {}, adminAreaAsksRecentSignIn('5m'));
});
afterAll(async () => {
  await recent?.stop();
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Signs in from `from` with the provider's tokens carrying `claims`; then GET `path` with the session. */
async function signedInGet(from: string, claims: Record<string, unknown>, path: string) {
  provider.claims = claims;
  const cookie = await gateway.signIns.complete(from);
  const client = await gateway.signIns.send(path, from, cookie);
  await client.closed;
  const line = await gateway.process.waitForLine(
    (l) => l.type === 'request' && l.clientIp === from && l.uri === path,
  );
  return { status: statusesOf(client.received())[0], decision: line.decision };
}

describe('policies on how the user authenticated (amr, acr)', () => {
  it('a sign-in with a second factor passes `claim: {name: amr, contains: mfa}`', async () => {
    const seen = upstream.seen.length;
    const out = await signedInGet('127.0.0.31', { amr: ['pwd', 'mfa'] }, '/reports/mfa');
    expect(out.status).toBe(200);
    expect(out.decision).toEqual({
      action: 'allow',
      policy: 'engineers-mfa',
      rule: 'include[0].groups',
      reason: 'group_listed',
    });
    expect(upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/reports/mfa']);
    // How the user authenticated reaches the application: the JWT's amr, the document's amr.
    const claims = lastJwtClaims();
    expect(claims.amr).toEqual(['pwd', 'mfa']);
    expect(claims).not.toHaveProperty('auth_time');
  });

  it('the identity document and the session page say how the user authenticated; markup in amr is escaped', async () => {
    const from = '127.0.0.34';
    provider.claims = { amr: ['pwd', '<b>otp</b>'] };
    const cookie = await gateway.signIns.complete(from);
    const document = await gateway.signIns.send('/.gatehouse/userinfo', from, cookie);
    await document.closed;
    const text = document.received();
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({
      amr: ['pwd', '<b>otp</b>'],
      authenticatedAt: null,
    });
    const page = await gateway.signIns.send('/.gatehouse/', from, cookie, PAGE);
    await page.closed;
    expect(page.received()).toContain(
      '<tr><th scope="row">Authenticated with</th><td><code>pwd</code>, <code>&#60;b&#62;otp&#60;/b&#62;</code></td></tr>',
    );
  });

  it('login_succeeded says how the user signed in (auth_time, amr, acr) for the audit; claims in another shape are left out, not cut', async () => {
    const from = '127.0.0.35';
    provider.claims = { amr: ['hwk', 'mfa'], acr: 'phr' };
    provider.authTime = now() - 7200;
    const authTime = provider.authTime;
    await gateway.signIns.complete(from);
    provider.authTime = undefined;
    const login = await gateway.process.waitForLine(
      (l) => l.type === 'login_succeeded' && l.clientIp === from,
    );
    expect(login).toMatchObject({
      authenticatedAt: new Date(authTime * 1000).toISOString(),
      amr: ['hwk', 'mfa'],
      acr: 'phr',
    });

    const odd = '127.0.0.36';
    // amr as a string (not a list), acr with a line break: the identity JWT carries neither, and
    // neither does the event.
    provider.claims = { amr: 'pwd', acr: 'gold\nforged' };
    await gateway.signIns.complete(odd);
    const oddLogin = await gateway.process.waitForLine(
      (l) => l.type === 'login_succeeded' && l.clientIp === odd,
    );
    expect(oddLogin).not.toHaveProperty('amr');
    expect(oddLogin).not.toHaveProperty('acr');
    expect(oddLogin).not.toHaveProperty('authenticatedAt');
    expect(oddLogin).toMatchObject({ sub: 'mallory', groups: 1 });
  });

  it('a password alone is refused by the same policy', async () => {
    const seen = upstream.seen.length;
    const out = await signedInGet('127.0.0.32', { amr: ['pwd'] }, '/reports/pwd');
    expect(out.status).toBe(403);
    expect(out.decision).toMatchObject({ action: 'deny', reason: 'no_policy_matched' });
    expect(upstream.seen.length).toBe(seen);
  });

  it('`acr` is kept too: a policy on the authentication context class', async () => {
    const out = await signedInGet('127.0.0.33', { groups: [], acr: 'phr' }, '/reports/acr');
    expect(out.status).toBe(200);
    expect(out.decision).toMatchObject({ policy: 'phishing-resistant', rule: 'include[0].claim' });
  });
});

describe('signedInWithin: a recent authentication for sensitive paths', () => {
  it('an authentication an hour old: the admin area sends the page to sign in again, an API call gets the RFC 9470 challenge; other paths go on', async () => {
    const from = '127.0.0.41';
    provider.claims = {};
    provider.ignoresMaxAge = false;
    provider.authTime = now() - 3600;
    const cookie = await recent.signIns.complete(from);
    const seen = upstream.seen.length;

    const docs = await get(recent, '/docs', from, cookie, PAGE);
    expect(docs.status).toBe(200);

    const page = await get(recent, '/admin/users?tab=2', from, cookie, PAGE);
    expect(page.status).toBe(302);
    expect(headerOf(page.text, 'location')).toBe(
      `http://${recent.host}/.gatehouse/login?rd=%2Fadmin%2Fusers%3Ftab%3D2&fresh=1`,
    );
    expect(page.line.decision).toEqual({
      action: 'deny',
      policy: 'admins-recently',
      rule: null,
      reason: 'fresh_sign_in_required',
    });

    const api = await get(recent, '/admin/api/users', from, cookie);
    expect(api.status).toBe(401);
    expect(headerOf(api.text, 'www-authenticate')).toBe(
      'Bearer realm="gatehouse", error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age="300"',
    );
    expect(api.text).toContain('"error":"fresh_sign_in_required"');
    expect(api.line).toMatchObject({ status: 401, error: 'fresh_sign_in_required' });
    // Only /docs reached the application.
    expect(upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/docs']);
  });

  it('signing in again asks the provider for max_age; the provider authenticates anew and the admin area opens', async () => {
    const from = '127.0.0.42';
    provider.authTime = now() - 3600;
    const cookie = await recent.signIns.complete(from);
    const again = await signInAgain(recent, '/.gatehouse/login?rd=%2Fadmin%2Fusers&fresh=1', from, cookie);
    expect(again.providerUrl.searchParams.get('max_age')).toBe('300');
    expect(again.status).toBe(302);
    expect(headerOf(again.answer, 'location')).toBe(`http://${recent.host}/admin/users`);
    expect(provider.authTime).toBeGreaterThanOrEqual(now() - 5);
    const admin = await get(recent, '/admin/users', from, again.session, PAGE);
    expect(admin.status).toBe(200);
    expect(admin.line.decision).toMatchObject({ policy: 'admins-recently', reason: 'path_matched' });
    // The application is told when the user authenticated: the JWT's auth_time, and the
    // identity document's authenticatedAt.
    const claims = lastJwtClaims();
    expect(claims.auth_time).toBe(provider.authTime);
    const document = await get(recent, '/.gatehouse/userinfo', from, again.session);
    const body = JSON.parse(document.text.slice(document.text.indexOf('\r\n\r\n') + 4)) as Record<
      string,
      unknown
    >;
    expect(body.authenticatedAt).toBe(new Date((provider.authTime as number) * 1000).toISOString());
    // And the person, on the session page.
    const page = await get(recent, '/.gatehouse/', from, again.session, PAGE);
    expect(page.text).toContain(
      `<tr><th scope="row">Authenticated at the provider</th><td><time>${body.authenticatedAt}</time></td></tr>`,
    );
  });

  it('a provider that ignores max_age: the sign-in fails with authentication_not_recent, not a loop of sign-ins', async () => {
    const from = '127.0.0.43';
    provider.authTime = now() - 3600;
    provider.ignoresMaxAge = true;
    try {
      const cookie = await recent.signIns.complete(from);
      const again = await signInAgain(recent, '/.gatehouse/login?rd=%2Fadmin&fresh=1', from, cookie);
      expect(again.status).toBe(401);
      expect(again.answer).toContain('did not confirm a recent sign-in');
      expect(again.session).toBe('');
      const failed = await recent.process.waitForLine(
        (l) => l.type === 'login_failed' && l.clientIp === from,
      );
      expect(failed.reason).toBe('authentication_not_recent');
      expect(failed.detail).toMatch(/^the ID token's auth_time is 36\d\d s old; max_age 300 was asked$/);
    } finally {
      provider.ignoresMaxAge = false;
    }
  });

  it('a provider that never says when (no auth_time): the admin area asks for a sign-in again (fail closed); one that ignores max_age then fails it', async () => {
    const from = '127.0.0.44';
    provider.authTime = undefined;
    provider.ignoresMaxAge = true;
    try {
      const cookie = await recent.signIns.complete(from);
      const page = await get(recent, '/admin', from, cookie, PAGE);
      expect(page.status).toBe(302);
      expect(headerOf(page.text, 'location')).toContain('&fresh=1');
      const again = await signInAgain(recent, '/.gatehouse/login?rd=%2Fadmin&fresh=1', from, cookie);
      expect(again.status).toBe(401);
      const failed = await recent.process.waitForLine(
        (l) => l.type === 'login_failed' && l.clientIp === from,
      );
      expect(failed).toMatchObject({ reason: 'authentication_not_recent' });
      expect(failed.detail).toBe('the ID token has no auth_time; max_age 300 was asked');
    } finally {
      provider.ignoresMaxAge = false;
    }
  });

  it('a user no fresh sign-in would let in gets 403; an anonymous page of the admin area signs in once, asked for a recent authentication', async () => {
    const from = '127.0.0.45';
    provider.authTime = now() - 3600;
    provider.claims = { groups: ['sales'] };
    const cookie = await recent.signIns.complete(from);
    provider.claims = {};
    const page = await get(recent, '/admin', from, cookie, PAGE);
    expect(page.status).toBe(403);
    expect(page.line.decision).toMatchObject({ action: 'deny', reason: 'no_policy_matched' });

    // The policy that asks for the sign-in wants a recent authentication: the first sign-in asks
    // the provider for it, so the admin area opens after one sign-in, not two.
    const browser = '127.0.0.46';
    const anonymous = await get(recent, '/admin', browser, '', PAGE);
    expect(anonymous.status).toBe(302);
    expect(headerOf(anonymous.text, 'location')).toBe(
      `http://${recent.host}/.gatehouse/login?rd=%2Fadmin&fresh=1`,
    );
    expect(anonymous.line.decision).toMatchObject({ reason: 'login_required', policy: 'admins-recently' });
    provider.authTime = now() - 3600;
    const signIn = await signInAgain(recent, '/.gatehouse/login?rd=%2Fadmin&fresh=1', browser, '');
    expect(signIn.providerUrl.searchParams.get('max_age')).toBe('300');
    expect(signIn.status).toBe(302);
    expect((await get(recent, '/admin', browser, signIn.session, PAGE)).status).toBe(200);

    // A page no such policy guards: the ordinary sign-in.
    const docs = await get(recent, '/docs', '127.0.0.47', '', PAGE);
    expect(headerOf(docs.text, 'location')).toBe(`http://${recent.host}/.gatehouse/login?rd=%2Fdocs`);
  });

  it('fresh=1 where no policy asks for a recent sign-in is an ordinary sign-in', async () => {
    const anonymous = await gateway.signIns.send('/.gatehouse/login?rd=%2Freports&fresh=1', '127.0.0.47');
    const head = await anonymous.waitFor(/\r\n\r\n/);
    expect(new URL(headerOf(head, 'location') ?? '').searchParams.has('max_age')).toBe(false);

    const from = '127.0.0.48';
    provider.claims = { amr: ['mfa'] };
    const cookie = await gateway.signIns.complete(from);
    const signedIn = await gateway.signIns.send('/.gatehouse/login?rd=%2Freports&fresh=1', from, cookie);
    const back = await signedIn.waitFor(/\r\n\r\n/);
    expect(statusesOf(back)[0]).toBe(302);
    expect(headerOf(back, 'location')).toBe(`http://${gateway.host}/reports`);
  });
});

describe('hostile clients at the fresh sign-in', () => {
  it('30 pipelined admin requests of a stale session are each answered 401 in order; reset, FIN, a trickle, silence and more sign-ins than slots leave the sidecar serving', async () => {
    const from = '127.0.0.49';
    provider.claims = {};
    provider.ignoresMaxAge = false;
    provider.authTime = now() - 3600;
    const cookie = await recent.signIns.complete(from);
    const seen = upstream.seen.length;
    const socket = await dial(recent.port, from);
    if (!socket) throw new Error('cannot connect');
    const client = watchSocket(socket);
    const one = `GET /admin/api/keys HTTP/1.1\r\nHost: ${recent.host}\r\nCookie: ${cookie}\r\n\r\n`;
    socket.write(one.repeat(29) + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    await client.closed;
    expect(statusesOf(client.received())).toEqual(Array(30).fill(401));
    expect(client.received().match(/error="insufficient_user_authentication"/g)?.length).toBe(30);
    // Cut mid-head and reset; reset right after a whole request; a request then FIN.
    for (const cut of [one.slice(0, 40), one]) {
      const s = await dial(recent.port, from);
      if (!s) throw new Error('cannot connect');
      s.write(cut);
      await sleep(20);
      s.resetAndDestroy();
    }
    const fin = await dial(recent.port, from, true);
    if (!fin) throw new Error('cannot connect');
    const finned = watchSocket(fin);
    fin.end(one);
    await finned.closed;
    expect(statusesOf(finned.received())).toEqual([401]);
    // The head trickled in pieces is read and answered as any other; half a head and then
    // silence is cut by the head's timeout (408, closed) before any policy runs.
    const slow = await dial(recent.port, from);
    if (!slow) throw new Error('cannot connect');
    const trickled = watchSocket(slow);
    for (let i = 0; i < one.length; i += 8) {
      slow.write(one.slice(i, i + 8));
      await sleep(2);
    }
    await trickled.waitFor(/insufficient_user_authentication/, 5_000);
    expect(statusesOf(trickled.received())).toEqual([401]);
    slow.destroy();
    const silent = await dial(recent.port, from);
    if (!silent) throw new Error('cannot connect');
    const quiet = watchSocket(silent);
    silent.write(one.slice(0, 60));
    await quiet.waitFor(/HTTP\/1\.1 408/, 20_000);
    expect(await quiet.until(() => quiet.isClosed(), 5_000)).toBe(true);
    // Twenty fresh sign-ins started from one browser, pipelined: each a redirect to the provider
    // with max_age; the login cookies stay within their slots.
    const logins = await dial(recent.port, from);
    if (!logins) throw new Error('cannot connect');
    const started = watchSocket(logins);
    const login = `GET /.gatehouse/login?rd=%2Fadmin&fresh=1 HTTP/1.1\r\nHost: ${recent.host}\r\nCookie: ${cookie}\r\n\r\n`;
    logins.write(login.repeat(19) + login.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    await started.closed;
    expect(statusesOf(started.received())).toEqual(Array(20).fill(302));
    expect(started.received().match(/max_age=300/g)?.length).toBe(20);
    // Nothing reached the application, and it still serves.
    expect(upstream.seen.length).toBe(seen);
    expect((await get(recent, '/docs', from, cookie)).status).toBe(200);
  }, 60_000);
});
