import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/chromium.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// The pages a person meets when something is not simply served, in headless Chromium: each says
// what happened and offers a way on that keeps the page they wanted. Screenshots are kept in
// test-artifacts/.

describe('gateway pages in headless Chromium', () => {
  let stack: SignInStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startSignInStack();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** Signs in at the provider's development login page, then waits to be back on this origin. */
  async function signInAt(page: Page, login: string): Promise<void> {
    await page.waitForSelector('input[name="login"]');
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any');
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(stack.origin)),
      page.click('button[type="submit"]'),
    ]);
  }

  it('403 names the application and the user, and "sign in as someone else" comes back to the same page', async () => {
    const page = await browser.newPage();
    // mallory has no groups: signed in, but no policy allows her.
    await page.goto(`${stack.origin}/reports/q3?view=full`);
    await signInAt(page, 'mallory');
    expect(page.url()).toBe(`${stack.origin}/reports/q3?view=full`);
    expect(await page.title()).toBe('Access denied');
    const text = (await page.textContent('body')) ?? '';
    expect(text).toContain('You do not have access to 127.0.0.1');
    expect(text).toContain('(application test-app)');
    expect(text).toContain('You are signed in as mallory@example.com (Development SSO)');
    const denied = stack.sidecar
      .records()
      .filter((r) => r.status === 403)
      .at(-1);
    expect(text).toContain(String(denied?.requestId));
    expect(denied).toMatchObject({ outcome: 'denied', error: 'access_denied' });
    await page.screenshot({ path: resolve(ARTIFACTS, 'access-denied-page.png') });

    // Why: the session page shows what the application takes her for (no groups).
    await page.getByRole('link', { name: 'Your session and groups' }).click();
    expect(await page.textContent('h1')).toBe('Your session');
    const session = (await page.textContent('table')) ?? '';
    expect(session).toContain('mallory@example.com');
    expect(session).toContain('Development SSO');
    expect(session).toMatch(/Groups\s*none/);
    await page.goBack();

    await page.getByRole('link', { name: 'Sign in as someone else' }).click();
    expect(await page.textContent('h1')).toBe('Sign out');
    await Promise.all([
      page.waitForURL((url) => !url.href.startsWith(stack.origin)),
      page.click('button[type="submit"]'),
    ]);
    await page.waitForSelector('button[autofocus]');
    await Promise.all([
      page.waitForURL(`${stack.origin}/.gatehouse/signed-out`),
      page.click('button[autofocus]'),
    ]);
    expect(await page.textContent('h1')).toBe('Signed out');
    await page.screenshot({ path: resolve(ARTIFACTS, 'signed-out-page.png') });
    const again = page.getByRole('link', { name: 'Sign in again' });
    expect(await again.getAttribute('href')).toBe('/reports/q3?view=full');

    await again.click();
    await signInAt(page, 'alice');
    expect(page.url()).toBe(`${stack.origin}/reports/q3?view=full`);
    const seen = JSON.parse((await page.textContent('body')) ?? '{}') as { headers: Record<string, string> };
    expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
    // The page to come back to was used once and forgotten.
    expect((await page.context().cookies(stack.origin)).map((c) => c.name)).not.toContain('_gatehouse_rd');

    // The signed-out page is not shown to someone signed in: back to the application.
    await page.goto(`${stack.origin}/.gatehouse/signed-out`);
    expect(page.url()).toBe(`${stack.origin}/`);
    expect(await page.title()).not.toBe('Signed out');
    await page.close();
  });

  it('a failed sign-in explains itself, and "Try again" goes back to the page that was wanted', async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.origin}/settings/keys?tab=2`);
    await page.waitForSelector('input[name="login"]');
    // The user cancels at the identity provider, which answers error=access_denied.
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(`${stack.origin}/.gatehouse/callback`)),
      page.getByRole('link', { name: '[ Cancel ]' }).click(),
    ]);
    expect(await page.title()).toBe('Sign-in failed');
    expect(await page.textContent('body')).toContain(
      'The identity provider refused the sign-in (access_denied).',
    );
    await page.screenshot({ path: resolve(ARTIFACTS, 'sign-in-failed-page.png') });
    const retry = page.getByRole('link', { name: 'Try again' });
    expect(await retry.getAttribute('href')).toBe('/settings/keys?tab=2');
    await retry.click();
    await signInAt(page, 'alice');
    expect(page.url()).toBe(`${stack.origin}/settings/keys?tab=2`);
    await page.close();
  });

  it('login cookies past the head: one page says so and ends them all, and the next try signs in', async () => {
    const context = await browser.newContext();
    try {
      // What tabs restored at the same moment leave (none saw the others' cookies): twelve sign-ins
      // in progress of 1.5 KB each, over the 16 KiB the sidecar reads of a request head.
      await context.addCookies(
        Array.from({ length: 12 }, (_, i) => ({
          name: `_gatehouse_tx_${i.toString(16)}`,
          value: 'v'.repeat(1_500),
          url: `${stack.origin}/.gatehouse/`,
        })),
      );
      const loginCookies = async () =>
        (await context.cookies(`${stack.origin}/.gatehouse/callback`)).filter((c) => c.name.includes('_tx_'));
      expect(await loginCookies()).toHaveLength(12);
      const wanted = `${stack.origin}/dashboards/7?view=week`;
      const page = await context.newPage();
      await page.goto(wanted);
      expect(await page.title()).toBe('Sign-in failed');
      expect(await page.getByRole('link', { name: 'Try again' }).getAttribute('href')).toBe('/');
      expect(await page.textContent('body')).toContain(
        'This browser had more sign-ins in progress than fit in one request, so they were ended. Open the application again to sign in.',
      );
      await page.screenshot({ path: resolve(ARTIFACTS, 'sign-ins-ended-page.png') });
      expect(await loginCookies()).toEqual([]);
      await page.goto(wanted);
      await signInAt(page, 'alice');
      expect(page.url()).toBe(wanted);
      const seen = JSON.parse((await page.textContent('body')) ?? '{}') as {
        headers: Record<string, string>;
      };
      expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
    } finally {
      await context.close();
    }
  });

  /**
   * Signs in at the provider's form of one of many open tabs: the form is sent with Enter, as
   * Chromium hit-tests a click only when it next paints, which with many tabs open took seconds.
   */
  async function signInAtTab(page: Page, login: string): Promise<void> {
    await page.bringToFront();
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any');
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(stack.origin)),
      page.press('input[name="password"]', 'Enter'),
    ]);
  }

  it('eighteen tabs restored at once: a tab whose sign-in a newer one replaced comes back to its own page once the browser has signed in', async () => {
    const context = await browser.newContext();
    try {
      // Each tab stops at the provider's form; past 16 sign-ins in progress the newest take the
      // oldest ones' login cookies (a browser restoring a day's tabs after a night): the first two are replaced.
      const tabs: { page: Page; wanted: string }[] = [];
      for (let i = 0; i < 18; i++) {
        const page = await context.newPage();
        const wanted = `${stack.origin}/projects/${i}/board?filter=mine`;
        await page.goto(wanted, { waitUntil: 'domcontentloaded' });
        await page.waitForSelector('input[name="login"]');
        tabs.push({ page, wanted });
      }
      const oldest = tabs[0] as { page: Page; wanted: string };
      const newest = tabs[17] as { page: Page; wanted: string };
      await signInAtTab(newest.page, 'alice');
      expect(newest.page.url()).toBe(newest.wanted);
      // The oldest tab's sign-in was replaced; the user signs in there too, as the form asks.
      const failed = stack.sidecar.events('login_failed').length;
      await signInAtTab(oldest.page, 'alice');
      expect(oldest.page.url()).toBe(oldest.wanted);
      const seen = JSON.parse((await oldest.page.textContent('body')) ?? '{}') as {
        headers: Record<string, string>;
      };
      expect(seen.headers['x-gatehouse-email']).toBe('alice@example.com');
      expect(
        stack.sidecar
          .events('login_failed')
          .slice(failed)
          .map((e) => e.reason),
      ).toEqual(['state_unknown']);
    } finally {
      await context.close();
    }
  });

  it('machines still get JSON: a 403 without text/html in Accept', async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.origin}/reports`);
    await signInAt(page, 'mallory');
    // Same cookies as the page, no text/html in Accept.
    const res = await page.context().request.get(`${stack.origin}/reports`, {
      headers: { accept: 'application/json' },
    });
    expect(res.status()).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'access_denied' });
    await page.close();
  });
});
