import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// In Chromium, with real cookie rules: a page of a sibling host (evil.corp.test) sets a login
// cookie for the whole parent domain, and the victim opens the attacker's callback URL on
// wiki.corp.test. The victim must not end up signed in as the attacker; the binding cookie is
// `__Host-`, which no other host can set.

describe('login CSRF through a sibling host, in Chromium', () => {
  let stack: SignInStack;
  let browser: Browser;
  let sibling: Server;
  let siblingPort = 0;
  /** What the sibling host's page plants, `name=value`. */
  let planted = '';

  beforeAll(async () => {
    stack = await startSignInStack({
      https: true,
      host: 'wiki.corp.test',
      policies: { staff: { decision: 'allow', include: [{ emailDomains: ['example.com'] }] } },
    });
    sibling = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<!doctype html><script>document.cookie = ${JSON.stringify(`${planted}; Domain=corp.test; Path=/.gatehouse/`)};</script>` +
          `<script>document.cookie = ${JSON.stringify(`__Host-_gatehouse_b=${'A'.repeat(22)}; Domain=corp.test; Path=/`)};</script>planted`,
      );
    });
    await new Promise<void>((resolve) => sibling.listen(0, '127.0.0.1', resolve));
    siblingPort = (sibling.address() as { port: number }).port;
    browser = await launchChromium(['--host-resolver-rules=MAP *.corp.test 127.0.0.1']);
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => sibling?.close(resolve));
    await stack?.close();
  });

  const context = () => browser.newContext({ ignoreHTTPSErrors: true });

  /** Signs `login` in at the provider's form, from the page the application sent there. */
  async function providerForm(ctx: BrowserContext, login: string, stopAtCallback: boolean): Promise<string> {
    const page = await ctx.newPage();
    let callback = '';
    if (stopAtCallback)
      // The provider's answers to the form are redirects, which the browser follows without
      // asking routes: they are followed here, by the context's own client (its cookies), up to
      // the callback, which is kept and not opened.
      await page.route('**/interaction/**', async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        let answer = await route.fetch({ maxRedirects: 0 });
        for (let hop = 0; hop < 5; hop++) {
          const location = new URL(answer.headers().location ?? '', route.request().url()).href;
          if (new URL(location).pathname === '/.gatehouse/callback') {
            callback = location;
            break;
          }
          answer = await ctx.request.get(location, { maxRedirects: 0 });
        }
        await route.abort();
      });
    await page.goto(`${stack.origin}/wiki/page`);
    await page.waitForSelector('input[name="login"]');
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any');
    if (stopAtCallback) {
      await page.click('button[type="submit"]').catch(() => undefined);
      await expect.poll(() => callback, { timeout: 5_000 }).not.toBe('');
    } else {
      await Promise.all([page.waitForURL(`${stack.origin}/wiki/page`), page.click('button[type="submit"]')]);
    }
    await page.close();
    return callback;
  }

  const whoIs = async (ctx: BrowserContext): Promise<string | undefined> => {
    const page = await ctx.newPage();
    const answer = await page.goto(`${stack.origin}/me`);
    const email =
      answer?.status() === 200 && page.url() === `${stack.origin}/me`
        ? (JSON.parse((await page.textContent('body')) ?? '{}') as { headers: Record<string, string> })
            .headers['x-gatehouse-email']
        : undefined;
    await page.close();
    return email;
  };

  it.each([
    ['signed in as herself', true],
    ['not signed in', false],
  ])(
    'a victim %s who opens the attacker\u2019s callback is not signed in as the attacker',
    async (_what, signedIn) => {
      // The attacker: a sign-in of their own, done at the provider, its callback kept.
      const attacker = await context();
      const callback = await providerForm(attacker, 'bob', true);
      const loginCookie = (await attacker.cookies()).find((c) => c.name.includes('_tx_'));
      expect(loginCookie?.path).toBe('/.gatehouse/');
      planted = `${loginCookie?.name}=${loginCookie?.value}`;
      await attacker.close();

      const victim = await context();
      if (signedIn) await providerForm(victim, 'alice', false);
      const page = await victim.newPage();
      await page.goto(`http://evil.corp.test:${siblingPort}/`);
      expect(await page.textContent('body')).toBe('planted');
      // The planted login cookie is the victim's now, for wiki.corp.test's sign-in routes; the
      // planted binding is not (a __Host- cookie with a Domain is refused).
      const cookies = await victim.cookies(`${stack.origin}/.gatehouse/callback`);
      expect(cookies.find((c) => c.name === loginCookie?.name)).toMatchObject({ domain: '.corp.test' });
      expect(cookies.filter((c) => c.name === '__Host-_gatehouse_b').map((c) => c.value)).not.toContain(
        'A'.repeat(22),
      );

      const failedBefore = stack.sidecar.events('login_failed').length;
      await page.goto(callback);
      expect(await whoIs(victim)).toBe(signedIn ? 'alice@example.com' : undefined);
      expect(stack.sidecar.events('login_failed').slice(failedBefore)).toEqual([
        expect.objectContaining({ reason: 'browser_mismatch' }),
      ]);
      expect(stack.sidecar.events('login_succeeded').filter((e) => e.email === 'bob@example.com')).toEqual(
        [],
      );
      await victim.close();
    },
  );
});
