import { resolve } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/chromium.ts';
import { sleep } from '../helpers/hostile.ts';
import { type StandaloneWiki, signInWithChromium, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

describe('sign out on every device, in headless Chromium', () => {
  let wiki: StandaloneWiki;
  let browser: Browser;

  beforeAll(async () => {
    wiki = await startStandaloneWiki('gatehouse-everywhere-');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await wiki?.stop();
  });

  /** A device of alice's: a browser of its own, signed in to the wiki. */
  async function signedInDevice(): Promise<BrowserContext> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithChromium(page, wiki);
    await page.close();
    return context;
  }

  it("the sign-out page's second button ends the session of every device", async () => {
    const laptop = await signedInDevice();
    const phone = await signedInDevice();
    await sleep(1_100); // both signed in before the second of the sign-out
    const page = await phone.newPage();
    await page.goto(`${wiki.origin}/.gatehouse/logout`);
    await page.screenshot({ path: resolve(ARTIFACTS, 'sign-out-page.png') });
    // The page's CSP allows posting to itself (form-action 'self'): the button's formaction goes.
    await Promise.all([
      page.waitForURL((url) => !url.href.startsWith(`${wiki.origin}/.gatehouse/logout`)),
      page.getByRole('button', { name: 'Sign out on every device' }).click(),
    ]);
    expect(await wiki.sidecar.waitForLine((l) => l.type === 'logout')).toMatchObject({
      sub: 'alice',
      everywhere: true,
    });
    // The laptop still holds its cookie, and is sent to sign in.
    expect((await laptop.cookies(wiki.origin)).some((c) => c.name === '_gatehouse')).toBe(true);
    const again = await laptop.request.get(`${wiki.origin}/home`, {
      maxRedirects: 0,
      headers: { accept: 'text/html' },
    });
    expect(again.status()).toBe(302);
    expect(again.headers().location).toContain('/.gatehouse/login');
    await laptop.close();
    await phone.close();
  });
});
