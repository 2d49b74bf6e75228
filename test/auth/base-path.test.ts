import { createPublicKey } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

/**
 * An application served under a path of a shared host (`externalUrl: <origin>/wiki`), where the
 * host's router sends only `/wiki/...` to it: the gateway's routes and cookies live under `/wiki`.
 */
let stack: SignInStack;
let wiki: string;

beforeAll(async () => {
  stack = await startSignInStack({ basePath: '/wiki' });
  wiki = `${stack.origin}/wiki`;
});
afterAll(() => stack.close());

function echoed(body: string): { url: string; headers: Record<string, string> } {
  return JSON.parse(body) as { url: string; headers: Record<string, string> };
}

describe('an application under a path of a shared host (externalUrl with a path)', () => {
  it('signs in through <base>/.gatehouse/, back to the page, with its cookies scoped to the path', async () => {
    const browser = new HttpBrowser();
    const first = await browser.fetch(`${wiki}/pages/home?tab=2`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(`${wiki}/.gatehouse/login?rd=%2Fwiki%2Fpages%2Fhome%3Ftab%3D2`);
    const start = await browser.fetch(first.headers.location as string);
    expect(start.status).toBe(302);
    const login = [start.headers['set-cookie']].flat().join('\n');
    expect(login).toMatch(/_gatehouse_tx_[0-9a-f]=[^;]+; Path=\/wiki\/\.gatehouse\/; HttpOnly/);
    const authorize = new URL(start.headers.location as string);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${wiki}/.gatehouse/callback`);

    const pages = await signInWithDevProvider(browser, `${wiki}/pages/home?tab=2`, 'alice');
    const final = pages.at(-1);
    expect(final?.url).toBe(`${wiki}/pages/home?tab=2`);
    expect(final?.status).toBe(200);
    const seen = echoed(final?.body ?? '{}');
    expect(seen.url).toBe('/wiki/pages/home?tab=2');
    expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
    const callback = pages.find((p) => p.url.startsWith(`${wiki}/.gatehouse/callback`));
    const session = [callback?.headers['set-cookie']].flat().join('\n');
    expect(session).toMatch(/(^|\n)_gatehouse=[^;]+; Path=\/wiki; HttpOnly; SameSite=Lax/);
    // The cookie path (RFC 6265): sent with /wiki and under it, never to /wikipedia or /.
    expect((await browser.fetch(`${wiki}`)).status).toBe(200);
    const sibling = await browser.fetch(`${stack.origin}/wikipedia/x`);
    expect(sibling.status).toBe(302); // no session sent there
  });

  it('publishes its JWKS under the path; the JWT names externalUrl as its issuer', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${wiki}/whoami`, 'alice');
    const jwt = echoed(pages.at(-1)?.body ?? '{}').headers['x-gatehouse-jwt-assertion'] as string;
    const jwks = JSON.parse((await browser.fetch(`${wiki}/.gatehouse/jwks.json`)).body) as {
      keys: Record<string, string>[];
    };
    const kid = JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()).kid as string;
    const pem = createPublicKey({ key: jwks.keys.find((k) => k.kid === kid) as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const verify = createVerifier({ key: pem, algorithms: ['ES256'], allowedIss: wiki });
    expect(verify(jwt)).toMatchObject({ sub: 'alice', iss: wiki });
    // The identity document too, where the session cookie (Path=/wiki) is sent.
    const userinfo = await browser.fetch(`${wiki}/.gatehouse/userinfo`);
    expect(userinfo.status).toBe(200);
    expect(JSON.parse(userinfo.body)).toMatchObject({ sub: 'alice', sid: decodeJwt(jwt).sid });
    // And the session page, its links under the path.
    const page = await browser.fetch(`${wiki}/.gatehouse/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<code>${decodeJwt(jwt).sid}</code>`);
    expect(page.body).toContain('action="/wiki/.gatehouse/logout"');
    expect(page.body).toContain('href="/wiki/.gatehouse/userinfo"');
  });

  it('keeps return paths inside the application: another path of the host, or none, leads to <base>/', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${wiki}/signed-in`, 'alice');
    for (const [rd, to] of [
      ['/grafana/d/x', `${wiki}/`],
      ['/wiki/pages/a?b=1', `${wiki}/pages/a?b=1`],
      ['/wikipedia', `${wiki}/`],
      ['//evil.example/x', `${wiki}/`],
    ] as const) {
      const answer = await browser.fetch(`${wiki}/.gatehouse/login?rd=${encodeURIComponent(rd)}`);
      expect(answer.status, rd).toBe(302);
      expect(answer.headers.location, rd).toBe(to);
    }
  });

  it('answers only under its own prefix: the root\u2019s /.gatehouse/ is 404 and never reaches the application', async () => {
    const browser = new HttpBrowser();
    const before = stack.upstream.seen.length;
    for (const path of [
      '/.gatehouse/login',
      '/.gatehouse/callback?state=x',
      '/.gatehouse/jwks.json',
      '/.gatehouse/userinfo',
      '/.gatehouse/',
    ]) {
      const answer = await browser.fetch(`${stack.origin}${path}`);
      expect(answer.status, path).toBe(404);
    }
    expect(stack.upstream.seen.length).toBe(before);
  });

  it('publishes its JWKS at the root for the application in the pod, whose Host is not the application’s', async () => {
    const own = (await new HttpBrowser().fetch(`${wiki}/.gatehouse/jwks.json`)).body;
    const answer = await rawRequest(
      stack.sidecar.port,
      'GET /.gatehouse/jwks.json HTTP/1.1\r\nHost: 10.4.7.12:4180\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(answer)).toBe(200);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual(JSON.parse(own));
  });

  it('signs out under the path: the session cookie is deleted with its Path, the provider sends the browser back under it', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${wiki}/before-logout`, 'alice');
    const page = await browser.fetch(`${wiki}/.gatehouse/logout?rd=%2Fwiki%2Fagain`);
    expect(page.body).toContain('action="/wiki/.gatehouse/logout?rd=%2Fwiki%2Fagain"');
    const out = await browser.fetch(`${wiki}/.gatehouse/logout?rd=%2Fwiki%2Fagain`, {
      method: 'POST',
      headers: { origin: stack.origin },
    });
    expect(out.status).toBe(200);
    const cleared = [out.headers['set-cookie']].flat().join('\n');
    expect(cleared).toMatch(/(^|\n)_gatehouse=; Path=\/wiki; HttpOnly; SameSite=Lax; Max-Age=0/);
    expect(cleared).toMatch(/_gatehouse_rd=[^;]+; Path=\/wiki\/\.gatehouse\/signed-out;/);
    const next = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(out.body)?.[1] ?? '';
    const end = new URL(next.replaceAll('&#38;', '&'));
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${wiki}/.gatehouse/signed-out`);
    // The session is gone; what is left is the page to come back to, for the signed-out route.
    expect([...browser.cookies(stack.origin).keys()].filter((n) => n.startsWith('_gatehouse'))).toEqual([
      '_gatehouse_rd',
    ]);
    const signedOut = await browser.fetch(`${wiki}/.gatehouse/signed-out`);
    expect(signedOut.status).toBe(200);
    expect(signedOut.body).toContain('href="/wiki/again"');
  });
});

describe('under a base path over https: a session is taken only from the browser it was signed in with', () => {
  let secure: SignInStack;
  let base: string;
  beforeAll(async () => {
    secure = await startSignInStack({
      https: true,
      basePath: '/wiki',
      policies: { staff: { decision: 'allow', include: [{ emailDomains: ['example.com'] }] } },
    });
    base = `${secure.origin}/wiki`;
  });
  afterAll(() => secure.close());

  async function signedIn(login: string): Promise<HttpBrowser> {
    const browser = new HttpBrowser(secure.dispatcher);
    const pages = await signInWithDevProvider(browser, `${base}/start`, login);
    expect(pages.at(-1)?.status).toBe(200);
    return browser;
  }

  it('its session cookie is __Secure- with the path (the __Host- prefix needs Path=/); the binding stays __Host-', async () => {
    const alice = await signedIn('alice');
    const names = [...alice.cookies(secure.origin).keys()];
    expect(names).toContain('__Secure-_gatehouse');
    expect(names).toContain('__Host-_gatehouse_b');
    expect(echoed((await alice.fetch(`${base}/me`)).body).headers['x-gatehouse-email']).toBe(
      'alice@example.com',
    );
  });

  it('a session planted in another browser (a sibling host can set __Secure- cookies for the parent domain) is refused and deleted', async () => {
    const mallory = await signedIn('bob');
    const session = [...mallory.cookies(secure.origin)].filter(([name]) =>
      name.startsWith('__Secure-_gatehouse'),
    );
    expect(session.length).toBeGreaterThan(0);
    // The victim, signed in before or never: either way the planted session is not the victim's browser's.
    for (const victim of [await signedIn('alice'), new HttpBrowser(secure.dispatcher)]) {
      for (const [name, value] of session) victim.cookies(secure.origin).set(name, value);
      const answer = await victim.fetch(`${base}/secret`);
      expect(answer.status).toBe(302); // anonymous: sent to sign in, never served as bob
      expect([answer.headers['set-cookie']].flat().join('\n')).toMatch(
        /__Secure-_gatehouse=; Path=\/wiki;.*Max-Age=0/,
      );
      expect(secure.sidecar.events('session_refused').at(-1)).toMatchObject({
        reason: 'other_browser',
        sub: 'bob',
      });
    }
    // The browser that signed in keeps its session.
    expect(echoed((await mallory.fetch(`${base}/me`)).body).headers['x-gatehouse-email']).toBe(
      'bob@example.com',
    );
  });
});
