import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, type CrossSitePage, launchChromium, startCrossSitePage } from '../helpers/chromium.ts';
import { type StandaloneWiki, signInWithChromium, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

// Chromium resolves this host to loopback: a site of its own, unlike the application's 127.0.0.1.
const OTHER_SITE = 'pages.other.test';

describe('the identity document from the page’s own scripts, in headless Chromium', () => {
  let wiki: StandaloneWiki;
  let browser: Browser;
  let otherSite: CrossSitePage;

  beforeAll(async () => {
    wiki = await startStandaloneWiki('gatehouse-userinfo-');
    browser = await launchChromium([`--host-resolver-rules=MAP ${OTHER_SITE} 127.0.0.1`]);
    otherSite = await startCrossSitePage(OTHER_SITE, () => '<!doctype html><p>Another site</p>');
  });
  afterAll(async () => {
    await browser?.close();
    await otherSite?.close();
    await wiki?.stop();
  });

  it('a script of the application reads who is signed in; a script of another site reads nothing', async () => {
    const page = await browser.newPage();
    await signInWithChromium(page, wiki);
    const signedIn = await wiki.sidecar.waitForLine((l) => l.type === 'login_succeeded');

    // fetch() of the same origin sends the session cookie: the document is the session's.
    const own = await page.evaluate(async () => {
      const res = await fetch('/.gatehouse/userinfo');
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ sub: 'alice', kind: 'user', sid: signedIn.sessionId });
    // The same for people: the session page.
    await page.goto(`${wiki.origin}/.gatehouse/`);
    await page.screenshot({ path: resolve(ARTIFACTS, 'session-page.png') });
    expect(await page.textContent('h1')).toBe('Your session');
    expect(await page.textContent('table')).toContain('alice@example.com');
    expect(await page.textContent('table')).toContain(String(signedIn.sessionId));

    // Another site's script, with credentials asked for: no CORS answer, so the browser gives it
    // nothing; and the SameSite=Lax cookie was not sent either.
    await page.goto(`${otherSite.origin}/`);
    const url = `${wiki.origin}/.gatehouse/userinfo`;
    const foreign = await page.evaluate(async (target) => {
      try {
        const res = await fetch(target, { credentials: 'include' });
        return { read: await res.text() };
      } catch (error) {
        return { refused: String(error) };
      }
    }, url);
    expect(foreign).toHaveProperty('refused');
    const line = await wiki.sidecar.waitForLine(
      (l) => l.type === 'request' && l.uri === '/.gatehouse/userinfo' && l.status === 401,
    );
    expect(line.sessionId).toBeNull();
  });
});
