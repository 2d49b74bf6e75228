import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, type Page, submitForm } from '../helpers/http-browser.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// A sign-in is bound to the browser that started it. Its login cookie (`_gatehouse_tx_<slot>`,
// scoped to /.gatehouse/) cannot carry the `__Host-` prefix, so any page of a sibling host
// (`Domain=` the parent domain: another team's application, one with an XSS) can put a cookie of
// that name into a browser. An attacker who started a sign-in, signed in at the provider as
// themselves and kept the callback URL could then plant their login cookie in the victim's
// browser and send them that URL: the victim ended up signed in as the attacker (login CSRF).

const whoAmI = (page: Page) =>
  (JSON.parse(page.body) as { headers: Record<string, string> }).headers['x-gatehouse-email'];

describe('a sign-in bound to the browser that started it (https)', () => {
  let stack: SignInStack;
  beforeAll(async () => {
    stack = await startSignInStack({
      https: true,
      policies: { staff: { decision: 'allow', include: [{ emailDomains: ['example.com'] }] } },
    });
  });
  afterAll(() => stack.close());

  const isCallback = (url: string) => new URL(url).pathname === '/.gatehouse/callback';

  /** The attacker's half: a sign-in started and done at the provider, the callback URL kept. */
  async function attackerCallback(): Promise<{ url: string; loginCookie: [string, string] }> {
    const mallory = new HttpBrowser(stack.dispatcher);
    const pages = await mallory.follow(`${stack.origin}/wiki/secret`);
    const form = pages.at(-1) as Page;
    const after = await submitForm(mallory, form, { login: 'bob', password: 'any' }, isCallback);
    const location = after.at(-1)?.headers.location;
    expect(typeof location === 'string' && isCallback(new URL(location, after.at(-1)?.url).href)).toBe(true);
    const loginCookie = [...mallory.cookies(stack.origin)].find(([name]) => name.includes('_tx_'));
    expect(loginCookie).toBeDefined();
    return {
      url: new URL(location as string, after.at(-1)?.url).href,
      loginCookie: loginCookie as [string, string],
    };
  }

  it('the secure cookies come with their prefix: the session is __Host-, the sign-in binding too', async () => {
    const alice = new HttpBrowser(stack.dispatcher);
    const pages = await alice.follow(`${stack.origin}/start`);
    await submitForm(alice, pages.at(-1) as Page, { login: 'alice', password: 'any' });
    const names = [...alice.cookies(stack.origin).keys()];
    expect(names).toContain('__Host-_gatehouse');
    expect(names).toContain('__Host-_gatehouse_b');
    const me = await alice.fetch(`${stack.origin}/me`);
    expect(whoAmI(me)).toBe('alice@example.com');
    // None of them reaches the application.
    expect((JSON.parse(me.body) as { headers: { cookie?: string } }).headers.cookie ?? '').not.toMatch(
      /gatehouse/i,
    );
  });

  it.each([
    ['a browser that never signed in here', false],
    ['a browser signed in as its own user', true],
  ])('a login cookie planted in %s does not sign it in as the attacker', async (_what, signedIn) => {
    const victim = new HttpBrowser(stack.dispatcher);
    if (signedIn) {
      const pages = await victim.follow(`${stack.origin}/start`);
      await submitForm(victim, pages.at(-1) as Page, { login: 'alice', password: 'any' });
    }
    const { url, loginCookie } = await attackerCallback();
    // What a Domain= cookie from a sibling host looks like to the sidecar: just a cookie of that name.
    victim.cookies(stack.origin).set(loginCookie[0], loginCookie[1]);
    const landed = await victim.follow(url);
    const me = await victim.fetch(`${stack.origin}/me`, { headers: { accept: 'application/json' } });
    expect(me.status === 200 ? whoAmI(me) : undefined).not.toBe('bob@example.com');
    if (signedIn) expect(whoAmI(me)).toBe('alice@example.com');
    else expect(me.status).toBe(401);
    expect(landed.map((p) => p.status)).not.toContain(500);
    const failed = stack.sidecar.events('login_failed').at(-1);
    expect(failed).toMatchObject({ reason: 'browser_mismatch' });
    // The callback's request line says so too, in the session of a victim signed in (for the audit).
    await expect
      .poll(() => stack.sidecar.records().find((r) => r.requestId === failed?.requestId))
      .toMatchObject({
        error: 'login_failed',
        errorCause: 'browser_mismatch',
        status: signedIn ? 302 : 400,
        sessionId: signedIn ? expect.any(String) : null,
      });
    expect(stack.sidecar.events('login_succeeded').filter((e) => e.email === 'bob@example.com')).toHaveLength(
      0,
    );
    if (!signedIn) return;
    // The analyst sees it in the victim's session.
    const audit = await runGatehouse(
      ['audit', 'sessions', '--user', 'alice@example.com', '--format', 'json'],
      `${stack.sidecar.lines.join('\n')}\n`,
    );
    expect(audit.code).toBe(0);
    const sessions = JSON.parse(audit.stdout) as { anomalies: { kind: string; requestId: string }[] }[];
    const flagged = sessions.flatMap((v) => v.anomalies.filter((a) => a.kind === 'foreign_sign_in'));
    expect(flagged.map((a) => a.requestId)).toEqual([failed?.requestId]);
  });

  it.each([
    ['the one whose binding the browser kept finishes first: the other goes on to its page, signed in', true],
    [
      'the other finishes first: its page says to open the application again, and the kept one signs in',
      false,
    ],
  ])(
    'two tabs of a browser never bound start their sign-ins at the same moment: %s',
    async (_what, keptFirst) => {
      /** A tab's sign-in up to its callback; its request to the login route carries `cookie` as sent. */
      const startTab = async (browser: HttpBrowser, page: string, cookie: string) => {
        const login = await browser.fetch(`${stack.origin}/.gatehouse/login?rd=${page}`, {
          headers: { cookie },
        });
        const pages = await browser.follow(
          new URL(login.headers.location as string, login.url).href,
          {},
          isCallback,
        );
        // The provider signs the second tab in without its form (its own session from the first).
        const last = pages.at(-1) as Page;
        const after = last.body.includes('name="login"')
          ? await submitForm(browser, last, { login: 'alice', password: 'any' }, isCallback)
          : pages;
        return new URL(after.at(-1)?.headers.location as string, after.at(-1)?.url).href;
      };
      const slot = (callback: string) =>
        callback === '' ? '' : new URL(callback).searchParams.get('state')?.charAt(0);
      let browser = new HttpBrowser(stack.dispatcher);
      let first = '';
      let second = '';
      // Both left before either answer came back: neither carried a binding, nor saw the other's
      // login cookie. One in 16 times they draw the same slot and the second replaces the first
      // (another case, tested with the slots): drawn again then.
      for (let attempt = 0; attempt < 10 && slot(first) === slot(second); attempt++) {
        browser = new HttpBrowser(stack.dispatcher);
        first = await startTab(browser, '/first', '');
        second = await startTab(browser, '/second', ''); // its binding is the one the browser keeps
      }
      expect(slot(first)).not.toBe(slot(second));
      const failedBefore = stack.sidecar.events('login_failed').length;
      if (keptFirst) {
        const kept = await browser.follow(second);
        expect(kept.at(-1)).toMatchObject({ status: 200, url: `${stack.origin}/second` });
        const other = await browser.follow(first);
        expect(other.at(-1)).toMatchObject({ status: 200, url: `${stack.origin}/first` });
      } else {
        const other = await browser.follow(first);
        expect(other.at(-1)?.status).toBe(400);
        expect(other.at(-1)?.body).toContain('Open the application again to sign in');
        expect(other.at(-1)?.body).toContain('href="/first"');
        const kept = await browser.follow(second);
        expect(kept.at(-1)).toMatchObject({ status: 200, url: `${stack.origin}/second` });
      }
      expect(stack.sidecar.events('login_failed').slice(failedBefore)).toEqual([
        expect.objectContaining({ reason: 'browser_mismatch' }),
      ]);
      expect(whoAmI(await browser.fetch(`${stack.origin}/me`))).toBe('alice@example.com');
    },
  );
});
