import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { TEST_KEYS } from '../helpers/fixtures.ts';
import {
  type ForgedProvider,
  type Forgery,
  forgedProviderConfig,
  startForgedProvider,
} from '../helpers/forged-provider.ts';
import { HttpBrowser, type Page, submitForm } from '../helpers/http-browser.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** True when a response set a session cookie. */
function setsSession(page: Page | undefined): boolean {
  return [page?.headers['set-cookie'] ?? []].flat().some((c) => /^_gatehouse=[^;]/.test(c));
}

describe('ID token checks against a forging provider: each forgery yields no session', () => {
  let forged: ForgedProvider;
  let sidecar: InProcessSidecar;
  let upstream: TestUpstream;
  let origin: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    sidecar = await startSidecar(undefined);
    origin = `http://127.0.0.1:${sidecar.port}`;
    forged = await startForgedProvider('gatehouse');
    sidecar.sidecar.install(forgedProviderConfig(origin, upstream.url, forged.issuer, ['openid', 'email']));
  });
  afterAll(async () => {
    await sidecar.close();
    await upstream.close();
    await forged.close();
  });

  async function signIn(forgery: Forgery): Promise<{ callback: Page | undefined; final: Page | undefined }> {
    forged.forgery = forgery;
    const browser = new HttpBrowser();
    const pages = await browser.follow(`${origin}/app`);
    return { callback: pages.find((p) => p.url.includes('/.gatehouse/callback')), final: pages.at(-1) };
  }

  it('accepts a well-formed ID token (the control case)', async () => {
    const { callback, final } = await signIn('valid');
    expect(setsSession(callback)).toBe(true);
    expect(final?.status).toBe(200);
  });

  it.each<Forgery>([
    'wrong_iss',
    'wrong_aud',
    'alg_none',
    'hs256_public_key',
    'expired',
    'unknown_kid',
    'wrong_nonce',
    'missing_nonce',
  ])('%s: no session, a clear page and a login_failed event', async (forgery) => {
    const before = sidecar.events('login_failed').length;
    const seenBefore = upstream.seen.length;
    const { callback } = await signIn(forgery);
    expect(callback?.status).toBe(401);
    expect(callback?.body).toContain('Sign-in failed');
    expect(setsSession(callback)).toBe(false);
    const event = sidecar.events('login_failed').at(before);
    expect(event).toMatchObject({ reason: 'token_rejected', provider: 'forged' });
    expect(upstream.seen.slice(seenBefore)).toEqual([]);
  });

  it.each<Forgery>(['email_verified_string', 'email_verified_zero'])(
    '%s: the session has no email, so email selectors cannot match it',
    async (forgery) => {
      const before = sidecar.events('login_succeeded').length;
      const { callback } = await signIn(forgery);
      expect(setsSession(callback)).toBe(true);
      expect(sidecar.events('login_succeeded').at(before)).toMatchObject({ sub: 'mallory', email: null });
    },
  );

  it.each<Forgery>(['token_endpoint_reset', 'token_endpoint_503'])(
    '%s: the callback says provider_unavailable, not token_rejected',
    async (forgery) => {
      const before = sidecar.events('login_failed').length;
      const { callback } = await signIn(forgery);
      expect(callback?.status).toBe(502);
      expect(setsSession(callback)).toBe(false);
      expect(sidecar.events('login_failed').at(before)).toMatchObject({
        reason: 'provider_unavailable',
        provider: 'forged',
      });
    },
  );

  it('a flood of unknown kids does not hammer the JWKS endpoint', async () => {
    const before = forged.hits.get('/jwks') ?? 0;
    for (let i = 0; i < 40; i++) {
      const { callback } = await signIn('unknown_kid');
      expect(setsSession(callback)).toBe(false);
    }
    expect((forged.hits.get('/jwks') ?? 0) - before).toBeLessThanOrEqual(1);
  });
});

describe('state and PKCE against oidc-provider: each case yields no session', () => {
  let stack: SignInStack;
  beforeAll(async () => {
    stack = await startSignInStack();
  });
  afterAll(() => stack.close());

  /** Runs a sign-in up to the provider's redirect back, without requesting the callback. */
  async function untilCallback(browser: HttpBrowser): Promise<string> {
    const form = (await browser.follow(`${stack.origin}/app`)).at(-1) as Page;
    const atCallback = (url: string) => url.startsWith(`${stack.origin}/.gatehouse/callback`);
    const last = (await submitForm(browser, form, { login: 'alice', password: 'x' }, atCallback)).at(
      -1,
    ) as Page;
    return new URL(last.headers.location as string, last.url).href;
  }

  /** The sign-in-in-progress cookie of a browser: [name, sealed value]. */
  function loginCookieOf(cookies: Map<string, string>): [string, string] {
    return [...cookies].find(([n]) => n.startsWith('_gatehouse_tx_')) ?? ['', ''];
  }

  function lastFailure() {
    return stack.sidecar.events('login_failed').at(-1);
  }

  it('missing state', async () => {
    const browser = new HttpBrowser();
    const page = await browser.fetch(`${stack.origin}/.gatehouse/callback?code=abc`);
    expect(page.status).toBe(400);
    expect(setsSession(page)).toBe(false);
    expect(lastFailure()).toMatchObject({ reason: 'state_missing' });
  });

  it('foreign state (the callback of a sign-in started in another browser)', async () => {
    const victim = new HttpBrowser();
    const callback = await untilCallback(victim);
    const attacker = new HttpBrowser();
    const page = await attacker.fetch(callback);
    expect(page.status).toBe(400);
    expect(setsSession(page)).toBe(false);
    expect(lastFailure()).toMatchObject({ reason: 'state_unknown' });
  });

  it('reused state (a callback replayed with its login cookie after it was redeemed)', async () => {
    const browser = new HttpBrowser();
    const callback = await untilCallback(browser);
    const saved = new Map(browser.cookies(stack.origin));
    const first = await browser.fetch(callback);
    expect(setsSession(first)).toBe(true);
    const replay = new HttpBrowser();
    for (const [n, v] of saved) replay.cookies(stack.origin).set(n, v);
    const again = await replay.fetch(callback);
    expect(again.status).toBe(400);
    expect(setsSession(again)).toBe(false);
    expect(lastFailure()).toMatchObject({ reason: 'state_reused' });
  });

  for (const [name, verifier] of [
    ['tampered PKCE verifier', 'A'.repeat(43)],
    ['missing PKCE verifier', ''],
  ] as const) {
    it(name, async () => {
      const browser = new HttpBrowser();
      const callback = await untilCallback(browser);
      const sealer = createSealer(TEST_KEYS('ES256').cookie);
      const cookies = browser.cookies(stack.origin);
      const [txName, txValue] = loginCookieOf(cookies);
      const tx = await sealer.open('login', txValue);
      expect(tx).toBeDefined();
      cookies.set(txName, await sealer.seal('login', { ...tx, v: verifier }));
      const page = await browser.fetch(callback);
      expect(page.status).toBe(401);
      expect(setsSession(page)).toBe(false);
      expect(lastFailure()).toMatchObject({ reason: 'token_rejected' });
    });
  }

  it('a login cookie sealed with another key is refused', async () => {
    const browser = new HttpBrowser();
    const callback = await untilCallback(browser);
    const cookies = browser.cookies(stack.origin);
    const [txName] = loginCookieOf(cookies);
    const foreign = createSealer([{ kid: 'x', secret: Buffer.alloc(32, 7).toString('base64url') }]);
    cookies.set(txName, await foreign.seal('login', { s: 'x' }));
    const page = await browser.fetch(callback);
    expect(page.status).toBe(400);
    expect(setsSession(page)).toBe(false);
    expect(lastFailure()).toMatchObject({ reason: 'state_mismatch' });
  });

  it('a provider error ends on a clear page', async () => {
    const browser = new HttpBrowser();
    const pages = await browser.follow(`${stack.origin}/app`);
    const form = pages.at(-1) as Page;
    const abort = /href="([^"]*abort[^"]*)"/.exec(form.body)?.[1];
    expect(abort).toBeTruthy();
    const after = await browser.follow(new URL((abort as string).replaceAll('&amp;', '&'), form.url).href);
    const callback = after.find((p) => p.url.includes('/.gatehouse/callback'));
    expect(callback?.status).toBe(403);
    expect(callback?.body).toContain('access_denied');
    expect(setsSession(callback)).toBe(false);
    expect(lastFailure()).toMatchObject({ reason: 'provider_error', detail: 'access_denied' });
  });

  it('a session cookie sealed for sign-in cannot pose as a session', async () => {
    const sealer = createSealer(TEST_KEYS('ES256').cookie);
    const browser = new HttpBrowser();
    browser
      .cookies(stack.origin)
      .set('_gatehouse', await sealer.seal('login', { v: 1, sid: 'x', sub: 'alice' }));
    const page = await browser.fetch(`${stack.origin}/app`);
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe(`${stack.origin}/.gatehouse/login?rd=%2Fapp`);
  });
});
