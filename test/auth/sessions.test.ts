import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../examples/demo/dev-provider.ts';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MANY_GROUPS = Array.from({ length: 120 }, (_, i) => `engineering-team-number-${i}`);
/** A user whose groups the test changes at the provider while a session is open. */
const dave: { email: string; name: string; groups: string[] } = {
  email: 'dave@example.com',
  name: 'Dave',
  groups: ['engineering'],
};

describe('session lifetimes, refresh and large sessions', () => {
  let stack: SignInStack;
  beforeAll(async () => {
    stack = await startSignInStack({
      accessTokenTtl: 2,
      users: {
        ...DEMO_USERS,
        carol: { email: 'carol@example.com', name: 'Carol', groups: ['engineering', ...MANY_GROUPS] },
        dave,
      },
      authentication: { session: { idleTimeout: '4s', absoluteLifetime: '6s' } },
    });
  });
  afterAll(() => stack.close());

  it('refreshes once when provider tokens expire, even under concurrent requests', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/start`, 'alice');
    const provider = stack.providers[0];
    const tokenHits = () => provider?.hits.get('/token') ?? 0;
    const before = tokenHits();
    const preRefresh = new Map(browser.cookies(stack.origin));
    await sleep(2_200);
    const pages = await Promise.all(
      Array.from({ length: 8 }, () => browser.fetch(`${stack.origin}/after-expiry`)),
    );
    expect(pages.map((p) => p.status)).toEqual(Array(8).fill(200));
    expect(tokenHits() - before).toBe(1);
    expect(stack.sidecar.events('session_refreshed')).toHaveLength(1);
    expect(
      pages.every((p) => [p.headers['set-cookie']].flat().some((c) => c?.startsWith('_gatehouse='))),
    ).toBe(true);
    // A request still carrying the pre-refresh cookie reuses the refresh (the refresh token was
    // rotated; spending it again would end the session).
    const late = new HttpBrowser();
    for (const [n, v] of preRefresh) late.cookies(stack.origin).set(n, v);
    expect((await late.fetch(`${stack.origin}/late`)).status).toBe(200);
    expect(tokenHits() - before).toBe(1);
    expect(stack.sidecar.events('session_refresh_failed')).toHaveLength(0);
  });

  it('ends a session whose refresh no longer fits the cookies a browser sends back; the sign-in that follows says why', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/start`, 'dave');
    dave.groups = [
      'engineering',
      ...Array.from({ length: 250 }, (_, i) => `/corp/platform/team-${i}/members-of-it`),
    ];
    await sleep(2_200);
    const page = await browser.fetch(`${stack.origin}/after-refresh`);
    expect(page.status).toBe(302);
    expect(stack.sidecar.events('session_refresh_failed').at(-1)).toMatchObject({
      sub: 'dave',
      reason: 'refresh_rejected',
      detail: expect.stringMatching(/session too large/),
    });
    // The provider still has dave signed in: straight back to the callback.
    const again = await browser.follow(`${stack.origin}/start`);
    expect(again.at(-1)?.status).toBe(500);
    expect(again.at(-1)?.body).toMatch(/more than a sign-in can hold \(251 groups\)/);
    expect(stack.sidecar.events('login_failed').at(-1)).toMatchObject({ reason: 'session_too_large' });
  });

  it('ends a session left idle longer than the idle timeout', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/start`, 'alice');
    await sleep(4_200);
    const page = await browser.fetch(`${stack.origin}/later`);
    expect(page.status).toBe(302);
    expect(stack.sidecar.events('session_expired').at(-1)).toMatchObject({
      reason: 'idle_timeout',
      sub: 'alice',
    });
  });

  it('ends an active session at its absolute lifetime', async () => {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/start`, 'alice');
    const deadline = Date.now() + 8_000;
    let status = 200;
    while (Date.now() < deadline && status === 200) {
      await sleep(700);
      status = (await browser.fetch(`${stack.origin}/busy`)).status;
    }
    expect(status).toBe(302);
    expect(stack.sidecar.events('session_expired').at(-1)).toMatchObject({ reason: 'absolute_lifetime' });
  });

  it('splits a large session across cookies and reads it back', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/big`, 'carol');
    const callback = pages.find((p) => p.url.includes('/.gatehouse/callback'));
    const cookies = [callback?.headers['set-cookie']].flat().filter((c) => c?.startsWith('_gatehouse'));
    expect(cookies.length).toBeGreaterThan(1);
    for (const c of cookies) expect(c?.length).toBeLessThan(4_000);
    const final = pages.at(-1);
    expect(final?.status).toBe(200);
    const seen = JSON.parse(final?.body ?? '{}') as { headers: Record<string, string> };
    expect(seen.headers['x-gatehouse-groups']?.split(',')).toHaveLength(121);
    expect(seen.headers.cookie ?? '').not.toContain('_gatehouse');
  });
});
