import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, type DevUser } from '../../examples/demo/dev-provider.ts';
import { sleep } from '../helpers/hostile.ts';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// oidc-provider names carol's groups as a distributed claim (`_claim_names`, `_claim_sources`)
// instead of sending them, as Microsoft Entra ID does for an account in more than 200 groups.
let stack: SignInStack;
/** The provider's accounts, changed by a test as an administrator would change them. */
const users: Record<string, DevUser> = {
  ...DEMO_USERS,
  carol: { email: 'carol@example.com', name: 'Carol', groups: ['engineering'], groupsOverage: true },
  erin: { email: 'erin@example.com', name: 'Erin', groups: ['engineering'], groupsOverage: true },
};

beforeAll(async () => {
  // Provider tokens for 2 s: a request after that refreshes the session's claims.
  stack = await startSignInStack({ users, accessTokenTtl: 2 });
});
afterAll(() => stack?.close());

const LEFT_OUT = 'Your identity provider left your groups out of your sign-in';

describe("groups the provider left out of the sign-in (Entra's groups overage)", () => {
  it('the sign-in says so, and the access-denied page tells the user why no group rule matches', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'carol');
    const denied = pages.at(-1);
    expect(denied?.status).toBe(403);
    expect(denied?.body).toContain(LEFT_OUT);
    expect(stack.upstream.seen.some((r) => r.url === '/reports')).toBe(false);
    expect(stack.sidecar.events('login_succeeded').at(-1)).toMatchObject({
      sub: 'carol',
      groups: 0,
      groupsLeftOut: true,
    });
    // An API client is refused as before, with the JSON error.
    const api = await browser.fetch(`${stack.origin}/reports`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(403);
    expect(api.body).not.toContain(LEFT_OUT);
  });

  it('a refresh reads the claims anew: groups sent now clear the mark', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'erin');
    expect(pages.at(-1)?.body).toContain(LEFT_OUT);
    // Her administrators cut her groups down, and the provider sends them again.
    users.erin = { email: 'erin@example.com', name: 'Erin', groups: ['sales'] };
    await sleep(2_200);
    const after = await browser.fetch(`${stack.origin}/reports`);
    expect(stack.sidecar.events('session_refreshed').at(-1)).toMatchObject({ sub: 'erin' });
    expect(after.status).toBe(403);
    expect(after.body).not.toContain(LEFT_OUT);
  });

  it('a user whose groups came, and simply do not match, gets the page without it', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'bob');
    expect(pages.at(-1)?.status).toBe(403);
    expect(pages.at(-1)?.body).not.toContain(LEFT_OUT);
    const line = stack.sidecar.events('login_succeeded').at(-1);
    expect(line).toMatchObject({ sub: 'bob', groups: 1 });
    expect(line).not.toHaveProperty('groupsLeftOut');
  });
});
