import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/chromium.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

describe('sign-in in headless Chromium against oidc-provider', () => {
  let stack: SignInStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startSignInStack({ providers: 2 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('chooser → provider login → back at the requested URL with the identity; logout ends the session', async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.origin}/dashboard/reports?range=7d`);
    expect(await page.title()).toBe('Sign in');
    await page.screenshot({ path: resolve(ARTIFACTS, 'chooser-page.png') });

    await page.getByRole('link', { name: 'Development SSO 2' }).click();
    await page.waitForSelector('input[name="login"]');
    expect(new URL(page.url()).origin).toBe(stack.providers[1]?.issuer);
    await page.screenshot({ path: resolve(ARTIFACTS, 'provider-login-page.png') });
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'correct horse');
    await Promise.all([
      page.waitForURL(`${stack.origin}/dashboard/reports?range=7d`),
      page.click('button[type="submit"]'),
    ]);

    const seen = JSON.parse((await page.textContent('body')) ?? '{}') as {
      url: string;
      headers: Record<string, string>;
    };
    expect(seen.url).toBe('/dashboard/reports?range=7d');
    expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
    expect(seen.headers['x-gatehouse-groups']).toBe('engineering,admins');
    expect(seen.headers.cookie ?? '').not.toContain('_gatehouse');
    expect(stack.sidecar.events('login_succeeded').at(-1)).toMatchObject({ provider: 'dev2', sub: 'alice' });

    const cookies = await page.context().cookies(stack.origin);
    const session = cookies.find((c) => c.name === '_gatehouse');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });

    // The sign-out page asks first; its button posts the form (same origin), then the provider asks too.
    await page.goto(`${stack.origin}/.gatehouse/logout`);
    expect(await page.textContent('h1')).toBe('Sign out');
    await Promise.all([
      page.waitForURL((url) => !url.href.startsWith(stack.origin)),
      page.click('button[type="submit"]'),
    ]);
    // oidc-provider asks to confirm the sign-out at the provider.
    await page.waitForSelector('button[autofocus], button[type="submit"]');
    await Promise.all([
      page.waitForURL(`${stack.origin}/.gatehouse/signed-out`),
      page.click('button[autofocus]'),
    ]);
    expect(await page.textContent('h1')).toBe('Signed out');
    expect((await page.context().cookies(stack.origin)).some((c) => c.name.startsWith('_gatehouse'))).toBe(
      false,
    );
    expect(stack.sidecar.events('logout').at(-1)).toMatchObject({ sub: 'alice', provider: 'dev2' });

    await page.goto(`${stack.origin}/dashboard/reports`);
    expect(await page.title()).toBe('Sign in');
  });
});
