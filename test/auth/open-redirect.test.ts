import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeReturnPath } from '../../sidecar/src/auth/return-path.ts';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

const ORIGIN = 'https://app.example.com';

const HOSTS = ['evil.com', 'evil.com:443', '127.0.0.1', '[::1]', 'xn--80ak6aa92e.com'];
/** Payload shapes; each is tried with every host above. */
const SHAPES = [
  (h: string) => `//${h}`,
  (h: string) => `///${h}`,
  (h: string) => `////${h}/path`,
  (h: string) => `/\\${h}`,
  (h: string) => `\\\\${h}`,
  (h: string) => `\\/${h}`,
  (h: string) => `/%09/${h}`,
  (h: string) => `/\t/${h}`,
  (h: string) => `/\n/${h}`,
  (h: string) => `/\r\n/${h}`,
  (h: string) => ` //${h}`,
  (h: string) => `/ /${h}`,
  (h: string) => `https:${h}`,
  (h: string) => `https://${h}`,
  (h: string) => `http:/${h}`,
  (h: string) => `http:\\\\${h}`,
  (h: string) => `javascript://${h}/%0aalert(1)`,
  (h: string) => `//${h}@app.example.com`,
  (h: string) => `//app.example.com@${h}`,
  (h: string) => `https://app.example.com@${h}`,
  (h: string) => `/\\/${h}`,
  (h: string) => `/.//${h}`,
  (h: string) => `/..//${h}`,
  (h: string) => `/%2F%2F${h}`,
  (h: string) => `/%5C${h}`,
  (h: string) => `//${h}%23.app.example.com`,
  (h: string) => `//${h}#@app.example.com`,
  (h: string) => `//${h}?@app.example.com`,
  (h: string) => `/\u3002/${h}`,
  (h: string) => `//${h.replaceAll('.', '\uff0e')}`,
  (h: string) => `/\uff0f${h}`,
  (h: string) => `//\u2025/${h}`,
  (h: string) => `/\u0000//${h}`,
  (h: string) => `%2F%2F${h}`,
  (h: string) => `${h}`,
];
const EXTRA = [
  'data:text/html,<script>alert(1)</script>',
  'javascript:alert(1)',
  'vbscript:msgbox(1)',
  '',
  '/'.repeat(3000),
  `/${'a'.repeat(3000)}`,
  '/\u202e/moc.live',
  '/%00',
  '\u0000/admin',
];

/** At least 100 payloads: every shape with every host, plus scheme and size oddities. */
const OPEN_REDIRECT_CORPUS: readonly string[] = [...SHAPES.flatMap((shape) => HOSTS.map(shape)), ...EXTRA];

describe('safeReturnPath', () => {
  it('has a corpus of at least 100 payloads', () => {
    expect(OPEN_REDIRECT_CORPUS.length).toBeGreaterThanOrEqual(100);
  });

  it.each(OPEN_REDIRECT_CORPUS.map((p) => [JSON.stringify(p).slice(0, 80), p]))(
    '%s stays on the origin',
    (_label, payload) => {
      const location = new URL(ORIGIN + safeReturnPath(payload, ORIGIN));
      expect(location.origin).toBe(ORIGIN);
    },
  );

  it.each([
    ['/dashboard?tab=2', '/dashboard?tab=2'],
    ['/a/b/../c', '/a/c'],
    ['/search?q=%2F%2Fevil.com', '/search?q=%2F%2Fevil.com'],
    ['/page#frag', '/page'],
    ['//evil.com', '/'],
    ['https://app.example.com/x', '/'],
  ])('%s -> %s', (input, expected) => {
    expect(safeReturnPath(input, ORIGIN)).toBe(expected);
  });
});

describe('open redirect through the sidecar', () => {
  let stack: SignInStack;
  let browser: HttpBrowser;
  beforeAll(async () => {
    stack = await startSignInStack({ providers: 2 });
    browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/.gatehouse/login?idp=dev&rd=/start`, 'alice');
  });
  afterAll(() => stack.close());

  it('never answers /.gatehouse/login or logout with an off-origin Location, signed in or not', async () => {
    const anonymous = new HttpBrowser();
    let checked = 0;
    for (const payload of OPEN_REDIRECT_CORPUS) {
      for (const [who, client] of [
        ['signed-in', browser],
        ['anonymous', anonymous],
      ] as const) {
        const page = await client.fetch(`${stack.origin}/.gatehouse/login?rd=${encodeURIComponent(payload)}`);
        const location = page.headers.location;
        if (typeof location === 'string')
          expect(new URL(location).origin, `${who} ${payload}`).toBe(stack.origin);
        else expect(page.status, `${who} ${payload}`).toBe(200); // the chooser page
        // The chooser's links carry the same sanitised return path.
        for (const m of page.body.matchAll(/href="([^"]+)"/g)) {
          const rd = new URL((m[1] as string).replaceAll('&amp;', '&'), stack.origin).searchParams.get('rd');
          if (rd !== null) expect(new URL(stack.origin + rd).origin).toBe(stack.origin);
        }
        checked++;
      }
    }
    expect(checked).toBe(OPEN_REDIRECT_CORPUS.length * 2);
  });

  it('the whole sign-in returns to an on-origin URL for every payload that reaches the provider', async () => {
    for (const payload of OPEN_REDIRECT_CORPUS.slice(0, 30)) {
      const fresh = new HttpBrowser();
      const pages = await signInWithDevProvider(
        fresh,
        `${stack.origin}/.gatehouse/login?idp=dev&rd=${encodeURIComponent(payload)}`,
        'alice',
      );
      const callback = pages.find((p) => p.url.includes('/.gatehouse/callback'));
      expect(new URL(callback?.headers.location as string).origin, payload).toBe(stack.origin);
    }
  });
});
