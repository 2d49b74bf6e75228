import { createPublicKey } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

let stack: SignInStack;

beforeAll(async () => {
  stack = await startSignInStack();
});
afterAll(() => stack.close());

function echoed(body: string): { url: string; headers: Record<string, string> } {
  return JSON.parse(body) as { url: string; headers: Record<string, string> };
}

describe('OIDC sign-in (authorization code + PKCE against oidc-provider)', () => {
  it('sends a page navigation to the provider and back to the original URL with the identity', async () => {
    const browser = new HttpBrowser();
    const first = await browser.fetch(`${stack.origin}/dashboard/x?tab=2`);
    expect(first.status).toBe(302);
    // Through the login route, where the login cookies of sign-ins in progress are sent.
    expect(first.headers.location).toBe(`${stack.origin}/.gatehouse/login?rd=%2Fdashboard%2Fx%3Ftab%3D2`);
    const start = await browser.fetch(first.headers.location as string);
    expect(start.status).toBe(302);
    const auth = new URL(start.headers.location as string);
    expect(auth.origin).toBe(stack.providers[0]?.issuer);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('state')).toBeTruthy();
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    expect(auth.searchParams.get('redirect_uri')).toBe(`${stack.origin}/.gatehouse/callback`);

    const pages = await signInWithDevProvider(browser, `${stack.origin}/dashboard/x?tab=2`, 'alice');
    const final = pages.at(-1);
    expect(final?.status).toBe(200);
    expect(final?.url).toBe(`${stack.origin}/dashboard/x?tab=2`);
    const seen = echoed(final?.body ?? '{}');
    expect(seen.url).toBe('/dashboard/x?tab=2');
    expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
    expect(seen.headers['x-gatehouse-user']).toBe('alice');
    expect(seen.headers['x-gatehouse-groups']).toBe('engineering,admins');
    // No Gatehouse cookie reaches the application.
    expect(seen.headers.cookie ?? '').not.toMatch(/_gatehouse/);

    const callback = pages.find((p) => p.url.includes('/.gatehouse/callback'));
    const setCookie = [callback?.headers['set-cookie']].flat().join('\n');
    expect(setCookie).toMatch(/_gatehouse=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
    expect(setCookie).not.toMatch(/Domain=/i);

    const login = stack.sidecar.events('login_succeeded').at(-1);
    expect(login).toMatchObject({
      provider: 'dev',
      sub: 'alice',
      email: 'alice@example.com',
      app: 'test-app',
    });
    const line = stack.sidecar.records().find((r) => r.uri === '/dashboard/x?tab=2' && r.status === 200);
    expect(line).toMatchObject({
      authMethod: 'oidc',
      sessionId: login?.sessionId,
      identity: { kind: 'user', sub: 'alice', email: 'alice@example.com', idp: 'dev' },
      decision: { action: 'allow', policy: 'engineers' },
    });
  });

  it('stamps a JWT that another implementation verifies with only the published JWKS', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/whoami`, 'alice');
    const jwt = echoed(pages.at(-1)?.body ?? '{}').headers['x-gatehouse-jwt-assertion'] as string;
    const jwks = JSON.parse((await browser.fetch(`${stack.origin}/.gatehouse/jwks.json`)).body) as {
      keys: Record<string, string>[];
    };
    const header = JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()) as {
      kid: string;
      alg: string;
    };
    expect(header.alg).toBe('ES256');
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    expect(jwk).toBeDefined();
    expect(jwk).not.toHaveProperty('d');
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const verify = createVerifier({
      key: pem,
      algorithms: ['ES256'],
      allowedIss: stack.origin,
      allowedAud: 'gatehouse:test-app',
    });
    const claims = verify(jwt) as Record<string, unknown>;
    expect(claims).toMatchObject({
      sub: 'alice',
      email: 'alice@example.com',
      groups: ['engineering', 'admins'],
      idp: 'dev',
    });
    expect(typeof claims.jti).toBe('string');
    expect(typeof claims.sid).toBe('string');
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    // Cached per session: the next request carries the same assertion.
    const again = await browser.fetch(`${stack.origin}/whoami`);
    expect(echoed(again.body).headers['x-gatehouse-jwt-assertion']).toBe(jwt);
    // A forged signature fails the other implementation.
    const tampered = `${jwt.slice(0, -4)}AAAA`;
    expect(() => verify(tampered)).toThrow();
  });

  it('answers API clients with 401 and WWW-Authenticate, never a redirect', async () => {
    const browser = new HttpBrowser();
    const cases: { method?: string; headers: Record<string, string> }[] = [
      { headers: { accept: 'application/json' } },
      { headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } },
      { headers: { accept: 'text/html', 'sec-fetch-mode': 'cors' } },
      { method: 'POST', headers: { accept: 'text/html', 'content-type': 'text/plain' } },
      { headers: { accept: '*/*' } },
    ];
    for (const c of cases) {
      const page = await browser.fetch(`${stack.origin}/api/items`, {
        ...c,
        ...(c.method === 'POST' ? { body: 'x' } : {}),
      });
      expect(page.status, JSON.stringify(c)).toBe(401);
      expect(page.headers['www-authenticate']).toMatch(/^Bearer realm="gatehouse"/);
      expect(page.headers.location).toBeUndefined();
    }
  });

  it('lets public paths through without sign-in and refuses users outside the policy with 403', async () => {
    const browser = new HttpBrowser();
    expect((await browser.fetch(`${stack.origin}/healthz`)).status).toBe(200);
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'bob');
    expect(pages.at(-1)?.status).toBe(403);
    expect(stack.upstream.seen.some((r) => r.url === '/reports')).toBe(false);
  });

  it('logout ends the session locally and at the provider; the old cookie no longer works', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/before-logout`, 'alice');
    const stolen = new Map(browser.cookies(stack.origin));
    // The sign-out page's form: a POST from the same origin; the provider's sign-out is next.
    const out = await browser.fetch(`${stack.origin}/.gatehouse/logout`, {
      method: 'POST',
      headers: { origin: stack.origin },
    });
    expect(out.status).toBe(200);
    const next = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(out.body)?.[1] ?? '';
    const end = new URL(next.replaceAll('&#38;', '&'));
    expect(end.origin).toBe(stack.providers[0]?.issuer);
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${stack.origin}/.gatehouse/signed-out`);
    expect(end.searchParams.get('id_token_hint')).toBeTruthy();
    expect([...browser.cookies(stack.origin).keys()].filter((n) => n.startsWith('_gatehouse'))).toEqual([]);
    expect(stack.sidecar.events('logout').at(-1)).toMatchObject({ sub: 'alice', provider: 'dev' });
    // Replaying the cookie from before the logout: anonymous again, sent to sign in.
    const replay = new HttpBrowser();
    for (const [n, v] of stolen) replay.cookies(stack.origin).set(n, v);
    const again = await replay.fetch(`${stack.origin}/after-logout`);
    expect(again.status).toBe(302);
    expect(again.headers.location).toBe(`${stack.origin}/.gatehouse/login?rd=%2Fafter-logout`);
  });

  it('a logout is not forgotten when the config reloads with the same session keys', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/before-reload`, 'alice');
    const stolen = new Map(browser.cookies(stack.origin));
    await browser.fetch(`${stack.origin}/.gatehouse/logout`, {
      method: 'POST',
      headers: { origin: stack.origin },
    });
    stack.sidecar.sidecar.install({ ...stack.config, generation: 'fedcba9876543210' });
    const replay = new HttpBrowser();
    for (const [n, v] of stolen) replay.cookies(stack.origin).set(n, v);
    const again = await replay.fetch(`${stack.origin}/after-reload`);
    expect(again.status).toBe(302);
    expect(again.headers.location).toBe(`${stack.origin}/.gatehouse/login?rd=%2Fafter-reload`);
  });
});
