import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// The pages that send a person back somewhere take the place from the request (a query
// parameter, a cookie): hostile values end at `/` on this origin, escaped, never elsewhere.

let stack: SignInStack;
beforeAll(async () => {
  stack = await startSignInStack();
});
afterAll(() => stack.close());

/** Elsewhere than a path of this origin: replaced by `/`. */
const HOSTILE = ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)'];
/** Paths of this origin with markup or line breaks in them: kept, percent-encoded, never raw. */
const ODD_PATHS = ['/"><script>alert(1)</script>', '/a%0d%0aSet-Cookie:x=1'];

describe('return paths of the sign-out pages', () => {
  it.each(HOSTILE)('the sign-out page with rd=%j posts back to / only', async (rd) => {
    const page = await new HttpBrowser().fetch(
      `${stack.origin}/.gatehouse/logout?rd=${encodeURIComponent(rd)}`,
    );
    expect(page.status).toBe(200);
    expect(page.body).toContain('action="/.gatehouse/logout?rd=%2F"');
    expect(page.body).not.toContain('<script>');
  });

  it.each(HOSTILE)('the signed-out page with a return cookie of %j links to / only', async (rd) => {
    const page = await new HttpBrowser().fetch(`${stack.origin}/.gatehouse/signed-out`, {
      headers: { cookie: `_gatehouse_rd=${encodeURIComponent(rd)}` },
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<a href="/">Sign in again</a>');
    expect(page.body).not.toContain('evil');
    // The cookie is forgotten once read.
    expect(String(page.headers['set-cookie'])).toMatch(
      /^_gatehouse_rd=; Path=\/\.gatehouse\/signed-out; .*Max-Age=0/,
    );
  });

  it.each(ODD_PATHS)('%j stays a percent-encoded path of this origin on both pages', async (rd) => {
    const browser = new HttpBrowser();
    const asking = await browser.fetch(`${stack.origin}/.gatehouse/logout?rd=${encodeURIComponent(rd)}`);
    const returned = await browser.fetch(`${stack.origin}/.gatehouse/signed-out`, {
      headers: { cookie: `_gatehouse_rd=${encodeURIComponent(rd)}` },
    });
    for (const page of [asking, returned]) {
      expect(page.body).not.toMatch(/<script|[\r\n]Set-Cookie/);
      expect(page.body).toMatch(/(action="\/\.gatehouse\/logout\?rd=%2F|href="\/)(%22|a%)/);
    }
  });

  it('a malformed return cookie (bad percent-encoding) is ignored', async () => {
    const page = await new HttpBrowser().fetch(`${stack.origin}/.gatehouse/signed-out`, {
      headers: { cookie: '_gatehouse_rd=%E0%A4%A' },
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<a href="/">Sign in again</a>');
  });
});
