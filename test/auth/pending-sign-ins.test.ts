import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  loginCookieBudgetFor,
  loginCookieRoom,
  type PendingSignIn,
  setCookieBytes,
  signInsToEnd,
} from '../../sidecar/src/auth/pending-sign-ins.ts';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { TEST_KEYS } from '../helpers/fixtures.ts';
import { type ForgedSignIn, startForgedSignIn } from '../helpers/forged-sign-in.ts';
import { eventually } from '../helpers/hostile.ts';
import { HttpBrowser, type Page } from '../helpers/http-browser.ts';
import { rawRequestInPieces, statusOf } from '../helpers/raw-http.ts';

// Every sign-in in progress holds a login cookie with its return path, and every one of them comes
// back with each callback. A browser that started a dozen sign-ins at once (tabs restored after a
// night, each stopped at the provider's login form) sent more than the sidecar's 16 KiB head limit:
// every callback, and every new sign-in after it, was refused 431 until the cookies expired ten
// minutes later. New sign-ins now go through the login route, where those cookies are sent, and
// end the oldest past a budget; a callback that sets a session ends those the session leaves no
// room for.

const pending = (name: string, bytes: number, startedAt?: number): PendingSignIn => ({
  name,
  bytes,
  startedAt,
});

describe('which sign-ins in progress end for a new one', () => {
  it.each([
    ['none in progress', [], 500, 8_192, []],
    ['all fit beside the new one', [pending('a', 1_000, 10), pending('b', 1_000, 11)], 500, 8_192, []],
    [
      'the oldest end first',
      [pending('a', 3_000, 10), pending('b', 3_000, 12), pending('c', 3_000, 11)],
      1_000,
      8_192,
      ['a'],
    ],
    [
      'within a second, the earlier in the header ends first',
      [pending('a', 3_000, 10), pending('b', 3_000, 10), pending('c', 3_000, 10)],
      1_000,
      8_192,
      ['a'],
    ],
    [
      'every one older than the first that does not fit, however small',
      [pending('small', 100, 10), pending('big', 7_000, 11), pending('new', 1_000, 12)],
      1_000,
      8_192,
      ['big', 'small'],
    ],
    [
      'those that do not open or have expired always',
      [pending('bad', 50), pending('a', 100, 10)],
      100,
      8_192,
      ['bad'],
    ],
    ['all, when the new one takes the whole budget', [pending('a', 100, 10)], 8_192, 8_192, ['a']],
  ] as const)('%s', (_, inProgress, newBytes, budget, ended) => {
    expect(signInsToEnd(inProgress, newBytes, budget)).toEqual(ended);
  });

  it('leaves them half the head limit, and what a new session leaves of the head beside 4 KiB', () => {
    expect([8_192, 16_384, 65_536].map(loginCookieBudgetFor)).toEqual([4_096, 8_192, 32_768]);
    expect(loginCookieRoom(16_384, 0)).toBe(8_192);
    expect(loginCookieRoom(16_384, 3_000)).toBe(8_192);
    expect(loginCookieRoom(16_384, 11_424)).toBe(864);
    expect(loginCookieRoom(8_192, 5_000)).toBe(0);
  });

  it('counts the cookies a response sets, not those it deletes', () => {
    expect(
      setCookieBytes([
        '_gatehouse=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600',
        '_gatehouse_1=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
        '_gatehouse_tx_x=; Path=/.gatehouse/; HttpOnly; SameSite=Lax; Max-Age=0',
        'bare=12',
      ]),
    ).toBe('_gatehouse=abc'.length + 2 + 'bare=12'.length + 2);
  });
});

describe('sign-ins started in many tabs of one browser', () => {
  let s: ForgedSignIn;
  beforeAll(async () => {
    // The application is sent one group: a user in 200 groups gets a session of three cookies
    // (10.9 KB) and requests an application reading 16 KiB of head can take.
    s = await startForgedSignIn({ identityHeaders: { groupsFilter: ['engineering'] } });
  });
  afterAll(async () => {
    await s.close();
  });
  afterEach(() => {
    s.provider.claims = {};
  });

  const callbackUrl = () => `${s.gate.url}/.gatehouse/callback`;
  const tabPath = (i: number, length: number) => `/dashboards/${i}?q=${'x'.repeat(length)}`;

  /** Opens a tab at path and follows it to the provider's door; returns the provider's URL. */
  async function park(browser: HttpBrowser, path: string): Promise<string> {
    const pages = await browser.follow(`${s.gate.url}${path}`, {}, (u) => u.startsWith(s.provider.issuer));
    const location = pages.at(-1)?.headers.location;
    if (typeof location !== 'string' || !location.startsWith(s.provider.issuer))
      throw new Error(`tab ${path.slice(0, 20)} did not reach the provider: ${pages.map((p) => p.status)}`);
    return location;
  }

  /** The user signs in at the provider in one parked tab: every page after it. */
  const finish = (browser: HttpBrowser, atProvider: string): Promise<Page[]> => browser.follow(atProvider);

  interface ParkedTab {
    readonly path: string;
    readonly atProvider: string;
  }

  /** Opens `count` tabs one after another, each at a path of about `length` characters, parked at the provider. */
  async function parkTabs(
    browser: HttpBrowser,
    count: number,
    length: number,
    each?: () => void,
  ): Promise<ParkedTab[]> {
    const tabs: ParkedTab[] = [];
    for (let i = 0; i < count; i++) {
      const path = tabPath(i, length);
      tabs.push({ path, atProvider: await park(browser, path) });
      each?.();
    }
    return tabs;
  }

  /** The reasons of the sign-in failures logged since `before` of them. */
  const failuresSince = (before: number): unknown[] =>
    s.gate
      .events('login_failed')
      .slice(before)
      .map((e) => e.reason);

  it('a dozen restored tabs: the callback never carries more than 8 KiB of login cookies, the newest sign in, the oldest go on to their own pages signed in', async () => {
    const browser = new HttpBrowser();
    const tabs = await parkTabs(browser, 12, 800, () =>
      expect(browser.cookieHeader(callbackUrl()).length).toBeLessThanOrEqual(8_192),
    );
    // Login cookies are sent to the sign-in routes only, never with the application's requests.
    expect(browser.cookieHeader(`${s.gate.url}/dashboards/0`)).toBe('');
    const before = s.gate.events('login_failed').length;
    const outcomes: string[] = [];
    for (const tab of [...tabs].reverse()) {
      const pages = await finish(browser, tab.atProvider);
      const callback = pages.find((p) => p.url.startsWith(callbackUrl())) as Page;
      const last = pages.at(-1) as Page;
      const ownPage = last.status === 200 && last.url === `${s.gate.url}${tab.path}`;
      // A sign-in of its own (a session cookie set), or straight on with the session of a newer tab.
      const how = [callback.headers['set-cookie'] ?? []].flat().some((c) => /^_gatehouse=[^;]/.test(c))
        ? 'signed in'
        : 'went on';
      outcomes.push(ownPage ? `own page, ${how}` : String(last.status));
    }
    // Newest first: five 1,494-byte login cookies fit in 8 KiB beside the sixth being started.
    expect(outcomes).toEqual([
      ...Array(5).fill('own page, signed in'),
      ...Array(7).fill('own page, went on'),
    ]);
    // Each of the seven ended sign-ins is still logged as one that did not finish.
    expect(failuresSince(before)).toEqual(Array(7).fill('state_unknown'));
  });

  it('a tab whose sign-in was ended, in a browser not signed in yet: the page says why and "Try again" leads to its own page', async () => {
    const browser = new HttpBrowser();
    const tabs = await parkTabs(browser, 8, 800);
    const oldest = tabs[0] as ParkedTab;
    const last = (await finish(browser, oldest.atProvider)).at(-1) as Page;
    expect(last.status).toBe(400);
    expect(last.body).toContain('replaced by newer sign-ins');
    const href = /<a href="([^"]*)">Try again<\/a>/.exec(last.body)?.[1];
    expect(href?.replaceAll('&amp;', '&')).toBe(oldest.path);
    // That link signs the tab in and serves its page.
    const again = await browser.follow(`${s.gate.url}${oldest.path}`);
    expect(again.at(-1)?.status).toBe(200);
    expect(again.at(-1)?.url).toBe(`${s.gate.url}${oldest.path}`);
  });

  it('a finished sign-in whose callback is opened again (back, reload) in the signed-in browser goes on to its page', async () => {
    const browser = new HttpBrowser();
    const path = tabPath(0, 40);
    const pages = await finish(browser, await park(browser, path));
    expect(pages.at(-1)?.url).toBe(`${s.gate.url}${path}`);
    const callback = pages.find((p) => p.url.startsWith(callbackUrl())) as Page;
    const before = s.gate.events('login_failed').length;
    const again = await browser.fetch(callback.url);
    expect(again.status).toBe(302);
    expect(again.headers.location).toBe(`${s.gate.url}${path}`);
    expect([again.headers['set-cookie'] ?? []].flat().filter((c) => /^_gatehouse=/.test(c))).toEqual([]);
    expect(failuresSince(before)).toEqual(['state_reused']);
    // A browser that is not signed in gets the page, whose "Try again" leads to the same page.
    const stranger = await new HttpBrowser().fetch(callback.url);
    expect(stranger.status).toBe(400);
    expect(/<a href="([^"]*)">Try again<\/a>/.exec(stranger.body)?.[1]?.replaceAll('&amp;', '&')).toBe(path);
  });

  it('a large session set by one tab ends the sign-ins of the others it leaves no room for', async () => {
    s.provider.claims = { groups: ['engineering', ...Array.from({ length: 199 }, () => randomUUID())] };
    const browser = new HttpBrowser();
    const tabs = await parkTabs(browser, 5, 800);
    const newest = await finish(browser, tabs[4]?.atProvider as string);
    expect(newest.at(-1)?.status).toBe(200);
    const session = [...browser.cookies(s.gate.url).keys()].filter((n) => !n.includes('_tx_'));
    expect(session.length).toBe(3);
    // The session takes three cookies (10.9 KB): none of the other four login cookies (1.5 KB each)
    // fits beside it; all four and the session would pass the head limit at the next callback.
    expect(browser.cookieHeader(callbackUrl()).length).toBeLessThanOrEqual(16_384 - 4_096);
    const outcomes: string[] = [];
    for (const tab of tabs.slice(0, 4).reverse()) {
      const last = (await finish(browser, tab.atProvider)).at(-1) as Page;
      outcomes.push(
        last.status === 200 && last.url === `${s.gate.url}${tab.path}` ? 'own page' : String(last.status),
      );
    }
    // Their sign-ins were ended, but the browser is signed in: each goes on to its own page.
    expect(outcomes).toEqual(['own page', 'own page', 'own page', 'own page']);
  });

  it('login cookies that do not open, are foreign or have expired end at the next sign-in', async () => {
    const sealer = createSealer(TEST_KEYS('ES256').cookie);
    const now = Math.floor(Date.now() / 1000);
    const tx = (state: string, t: number) =>
      sealer.seal('login', { s: state, n: 'n', v: 'v', p: 'corp', r: '/', t });
    const cookies = {
      _gatehouse_tx_a: 'not-sealed',
      _gatehouse_tx_b: await tx(`b${'B'.repeat(43)}`, now - 601),
      // Sealed here, but its state names another slot.
      _gatehouse_tx_c: await tx(`d${'D'.repeat(43)}`, now),
      _gatehouse_tx_f: await tx(`f${'F'.repeat(43)}`, now),
    };
    const browser = new HttpBrowser();
    const jar = browser.cookies(s.gate.url);
    for (const [name, value] of Object.entries(cookies)) jar.set(name, value);
    const start = await browser.fetch(`${s.gate.url}/.gatehouse/login?rd=/`);
    expect(start.status).toBe(302);
    const setCookies = [start.headers['set-cookie'] ?? []].flat();
    const touched = setCookies.map((c) => c.split('=')[0]);
    // Each one that is no sign-in in progress ends, or the new sign-in takes its slot.
    expect(touched).toEqual(
      expect.arrayContaining(['_gatehouse_tx_a', '_gatehouse_tx_b', '_gatehouse_tx_c']),
    );
    expect(touched).not.toContain('_gatehouse_tx_f');
    expect(setCookies.filter((c) => !c.includes('Max-Age=0'))).toHaveLength(1);
    for (const line of setCookies) expect(line).toContain('; Path=/.gatehouse/;');
    expect(jar.get('_gatehouse_tx_f')).toBe(cookies._gatehouse_tx_f);
  });

  it('every slot held: a new sign-in takes the oldest one; a callback whose slot holds a newer sign-in is told so and leaves it be', async () => {
    const sealer = createSealer(TEST_KEYS('ES256').cookie);
    const now = Math.floor(Date.now() / 1000);
    const browser = new HttpBrowser();
    const jar = browser.cookies(s.gate.url);
    // Slot 7 is the oldest; slot 3 the newest.
    const startedAt = (slot: string) => (slot === '7' ? now - 300 : slot === '3' ? now : now - 60);
    for (const slot of '0123456789abcdef')
      jar.set(
        `_gatehouse_tx_${slot}`,
        await sealer.seal('login', {
          s: `${slot}${'S'.repeat(43)}`,
          n: 'n',
          v: 'v',
          p: 'corp',
          r: '/',
          t: startedAt(slot),
        }),
      );
    const start = await browser.fetch(`${s.gate.url}/.gatehouse/login?rd=/`);
    expect(start.status).toBe(302);
    const setCookies = [start.headers['set-cookie'] ?? []].flat();
    expect(setCookies.map((c) => c.split('=')[0])).toEqual(['_gatehouse_tx_7']);
    expect(new URL(start.headers.location as string).searchParams.get('state')?.charAt(0)).toBe('7');
    // The provider sends back a sign-in whose slot 3 now holds another tab's newer one.
    const before = s.gate.events('login_failed').length;
    const late = await browser.fetch(`${callbackUrl()}?code=c&state=3${'T'.repeat(43)}`);
    expect(late.status).toBe(400);
    expect(late.body).toContain('replaced by newer sign-ins');
    expect(late.headers['set-cookie']).toBeUndefined();
    expect(failuresSince(before)).toEqual(['state_unknown']);
  });

  it('tabs that start their sign-ins at the same moment: the head they pass ends them all, and the browser signs in again at once', async () => {
    const browser = new HttpBrowser();
    const refusals: Page[] = [];
    /** Follows a navigation; a refusal for the head's size is kept, and is the last page. */
    const open = async (path: string): Promise<Page> => {
      const pages = await browser.follow(`${s.gate.url}${path}`, {}, (u) => u.startsWith(s.provider.issuer));
      const last = pages.at(-1) as Page;
      if (last.status === 431) refusals.push(last);
      return last;
    };
    // Restored at once, each tab's start carries only the cookies set before it: none sees the
    // others, so no budget holds, and together they pass the 16 KiB head. Every start is sent with
    // the cookies the browser held before any of them (none), whatever order the answers come in.
    const logins = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const app = await browser.fetch(`${s.gate.url}${tabPath(i, 2_000)}`);
        return new URL(app.headers.location as string, s.gate.url).href;
      }),
    );
    const heldBefore = browser.cookieHeader(`${s.gate.url}/.gatehouse/login`);
    const parked = await Promise.all(
      logins.map(async (login) => {
        const page = await browser.fetch(login, { headers: { cookie: heldBefore } });
        if (page.status === 431) refusals.push(page);
        return page;
      }),
    );
    const signedIn = async (path: string): Promise<Page> => {
      const last = await open(path);
      const atProvider = last.headers.location;
      if (typeof atProvider !== 'string' || !atProvider.startsWith(s.provider.issuer)) return last;
      return (await finish(browser, atProvider)).at(-1) as Page;
    };
    // The user opens the application again: signed in, after at most one more refusal.
    const before = refusals.length;
    let page = await signedIn('/after-restore');
    if (page.status === 431) page = await signedIn('/after-restore');
    expect({ status: page.status, url: page.url }).toEqual({
      status: 200,
      url: `${s.gate.url}/after-restore`,
    });
    expect(refusals.length - before).toBeLessThanOrEqual(1);
    // The head was passed (during the starts, or at the next sign-in), and each refusal ended
    // every login cookie by name, with a page that says so.
    expect(refusals.length).toBeGreaterThan(0);
    expect(parked.filter((p) => p.status !== 431 && p.status !== 302)).toEqual([]);
    for (const refused of refusals) {
      expect(refused.headers['content-type']).toContain('text/html');
      expect(refused.body).toContain('more sign-ins in progress than fit in one request');
      const ended = [refused.headers['set-cookie'] ?? []].flat();
      expect(ended.map((c) => c.split('=')[0]).sort()).toEqual(
        [...'0123456789abcdef'].map((slot) => `_gatehouse_tx_${slot}`),
      );
      for (const line of ended)
        expect(line).toMatch(/^_gatehouse_tx_[0-9a-f]=; Path=\/\.gatehouse\/;.*; Max-Age=0$/);
    }
  });

  it.each([
    ['a sign-in route, in one piece', '/.gatehouse/callback?state=x', 1, true],
    ['a sign-in route, trickled (the refused part starts mid-header)', '/.gatehouse/login?rd=/', 40, true],
    ["the application's path", '/dashboards/1', 1, false],
  ])('a head too large on %s: login cookies ended: %s', async (_where, target, pieces, ends) => {
    const port = Number(new URL(s.gate.url).port);
    const head = Buffer.from(
      `GET ${target} HTTP/1.1\r\nHost: ${new URL(s.gate.url).host}\r\nAccept: text/html\r\n` +
        `Cookie: ${Array.from({ length: 12 }, (_, i) => `_gatehouse_tx_${i.toString(16)}=${'v'.repeat(1_500)}`).join('; ')}\r\n\r\n`,
    );
    const response = await rawRequestInPieces(port, head, pieces);
    expect(statusOf(response)).toBe(431);
    const ended = response
      .split('\r\n')
      .filter((line) =>
        /^set-cookie: _gatehouse_tx_[0-9a-f]=; Path=\/\.gatehouse\/;.*; Max-Age=0$/i.test(line),
      );
    expect(ended.length).toBe(ends ? 16 : 0);
  });

  it('a head too large on a sign-in route from a client that half-closes (FIN) gets its page; one that resets (RST) at once leaves one line and a sidecar that serves', async () => {
    const port = Number(new URL(s.gate.url).port);
    const head = (tag: string) =>
      `GET /.gatehouse/callback?state=${tag} HTTP/1.1\r\nHost: ${new URL(s.gate.url).host}\r\n` +
      `Cookie: ${Array.from({ length: 12 }, (_, i) => `_gatehouse_tx_${i.toString(16)}=${'v'.repeat(1_500)}`).join('; ')}\r\n\r\n`;
    const lines = () =>
      s.gate.records().filter((r) => String(r.uri).startsWith('/.gatehouse/callback?state=hostile'));
    // FIN right after the head: the answer still comes, with every login cookie ended.
    const halfClosed = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(head('hostile-fin')));
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    expect(statusOf(halfClosed)).toBe(431);
    expect(halfClosed.match(/^set-cookie: _gatehouse_tx_[0-9a-f]=;/gim)).toHaveLength(16);
    // RST right after the head: nothing to answer; the line is written, and the next client is served.
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(head('hostile-rst'), () => {
          socket.resetAndDestroy();
          resolve();
        });
      });
      socket.on('error', () => undefined);
    });
    await eventually('both lines written', () => lines().length === 2);
    expect(lines().map((r) => [r.status, r.error])).toEqual([
      [431, 'headers_too_large'],
      [431, 'headers_too_large'],
    ]);
    expect((await new HttpBrowser().fetch(`${s.gate.url}/.gatehouse/login?rd=/`)).status).toBe(302);
  });

  it('a client that sends hundreds of login cookies: only the 16 slots are read, and those that do not open end at once', async () => {
    const browser = new HttpBrowser();
    const jar = browser.cookies(s.gate.url);
    for (let i = 0; i < 400; i++) jar.set(`_gatehouse_tx_${String(i).padStart(16, '0')}`, 'x');
    for (const slot of '0123456789abcdef') jar.set(`_gatehouse_tx_${slot}`, 'x');
    expect(browser.cookieHeader(callbackUrl()).length).toBeGreaterThan(12_000);
    const started = Date.now();
    const start = await browser.fetch(`${s.gate.url}/.gatehouse/login?rd=/`);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(start.status).toBe(302);
    const setCookies = [start.headers['set-cookie'] ?? []].flat();
    // Fifteen ended; the new sign-in takes the sixteenth slot.
    expect(setCookies.filter((c) => c.includes('Max-Age=0')).length).toBe(15);
    expect(setCookies.length).toBe(16);
  });
});
