import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossSitePage, launchChromium, startCrossSitePage } from '../helpers/chromium.ts';
import { type StandaloneWiki, signInWithChromium, startStandaloneWiki } from '../helpers/standalone-wiki.ts';

// Chromium resolves the provider's sign-out page host to loopback: a site of its own, unlike the
// application's 127.0.0.1, so its frame is cross-site as Microsoft Entra ID's is.
const PROVIDER_SITE = 'login.idp.test';

describe("front-channel logout from the provider's sign-out page, in headless Chromium", () => {
  let wiki: StandaloneWiki;
  let browser: Browser;
  let signOutPage: CrossSitePage;
  /** The front-channel logout URL the provider's page frames next. */
  let framed = '';

  beforeAll(async () => {
    // The shipped sidecar, standalone; its provider puts its session id (`sid`) in ID tokens, as
    // Entra and Keycloak do.
    wiki = await startStandaloneWiki('gatehouse-frontchannel-');
    browser = await launchChromium([`--host-resolver-rules=MAP ${PROVIDER_SITE} 127.0.0.1`]);
    // The provider's sign-out page, as Entra's: a hidden frame per application signed in to.
    signOutPage = await startCrossSitePage(
      PROVIDER_SITE,
      () =>
        `<!doctype html><p>Signing you out</p><iframe id="rp" style="display:none" src="${framed}"></iframe>`,
    );
  });
  afterAll(async () => {
    await browser?.close();
    await signOutPage?.close();
    await wiki?.stop();
  });

  it('the frame loads without our cookie and ends the session the browser still holds the cookie of', async () => {
    const page = await browser.newPage();
    await signInWithChromium(page, wiki);
    const signedIn = await wiki.sidecar.waitForLine((l) => l.type === 'login_succeeded');
    expect(typeof signedIn.providerSession).toBe('string');
    const sid = String(signedIn.providerSession);

    framed = `${wiki.origin}/.gatehouse/frontchannel-logout?sid=${encodeURIComponent(sid)}`;
    const frameAnswer = page.waitForResponse((r) =>
      r.url().startsWith(`${wiki.origin}/.gatehouse/frontchannel-logout`),
    );
    await page.goto(`${signOutPage.origin}/logout`);
    const answer = await frameAnswer;
    expect(answer.status()).toBe(200);
    // Sent from a cross-site frame: the browser kept our SameSite=Lax cookie out of it.
    const sent = await answer.request().allHeaders();
    expect(sent['sec-fetch-dest']).toBe('iframe');
    expect(sent['sec-fetch-site']).toBe('cross-site');
    expect(sent.cookie ?? '').not.toContain('_gatehouse');
    // The frame was shown, not refused for framing (a refused one is Chromium's error page).
    await page.waitForLoadState('load');
    expect(page.frames().map((f) => f.url())).toContain(framed);

    expect(await wiki.sidecar.waitForLine((l) => l.type === 'frontchannel_logout')).toMatchObject({
      sub: 'alice',
      providerSession: sid,
      issuerSent: false,
    });
    // The cookie is still in the browser, but its session has ended: it gets the sign-in.
    const cookies = await page.context().cookies(wiki.origin);
    expect(cookies.some((c) => c.name === '_gatehouse')).toBe(true);
    const again = await page.request.get(`${wiki.origin}/home`, {
      maxRedirects: 0,
      headers: { accept: 'text/html' },
    });
    expect(again.status()).toBe(302);
    expect(again.headers().location).toContain('/.gatehouse/login');
  });
});
