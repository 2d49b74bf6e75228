import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, type Page, signInWithDevProvider, submitForm } from '../helpers/http-browser.ts';
import { adminAreaAsksRecentSignIn } from '../helpers/recent-sign-in-policies.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// signedInWithin against a real OpenID Provider (oidc-provider): the sign-in asked for a recent
// authentication carries max_age, the provider answers with auth_time, and once the user's
// authentication is past the window the provider shows its login form again.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The admin area asks for an authentication within a minute; engineers may use the rest. */
const POLICIES = adminAreaAsksRecentSignIn('1m');

let stack: SignInStack;
/** The same application with two providers: the chooser. */
let twoProviders: SignInStack;
/** Two providers, the first of which the test then removes from the application. */
let providerRemoved: SignInStack;
beforeAll(async () => {
  stack = await startSignInStack({ policies: POLICIES });
  twoProviders = await startSignInStack({ policies: POLICIES, providers: 2 });
  providerRemoved = await startSignInStack({ policies: POLICIES, providers: 2 });
});
afterAll(async () => {
  await providerRemoved?.close();
  await twoProviders?.close();
  await stack?.close();
});

const providerPages = (pages: readonly Page[]) =>
  pages.filter((p) => p.url.startsWith(stack.providers[0]?.issuer ?? '-'));
const showsLoginForm = (pages: readonly Page[]) => pages.some((p) => p.body.includes('name="login"'));

describe('a recent sign-in for the admin area, with oidc-provider', () => {
  it('max_age goes to the provider, its auth_time opens the admin area; past the window the provider asks for the password again', async () => {
    const browser = new HttpBrowser();
    const signedIn = await signInWithDevProvider(browser, `${stack.origin}/docs`, 'alice');
    expect(signedIn.at(-1)?.status).toBe(200);

    // Straight after the sign-in: its ID token said nothing of auth_time (nobody asked), so the
    // admin area sends the page to sign in again with max_age; the provider's session is seconds
    // old, so it answers without a form, with auth_time, and the admin area opens.
    const admin = await browser.follow(`${stack.origin}/admin/users`);
    expect(admin[0]?.headers.location).toContain('fresh=1');
    expect(admin.at(-1)?.status).toBe(200);
    expect(showsLoginForm(admin)).toBe(false);
    expect(new URL(providerPages(admin)[0]?.url ?? '').searchParams.get('max_age')).toBe('60');
    expect(JSON.parse(admin.at(-1)?.body ?? '{}')).toMatchObject({ url: '/admin/users' });

    // Past the window and the 30 s tolerance: sent to sign in again, and the provider, whose
    // authentication is now older than max_age, shows its login form.
    await sleep(91_000);
    const docs = await browser.follow(`${stack.origin}/docs`);
    expect(docs.at(-1)?.status).toBe(200);
    const again = await browser.follow(`${stack.origin}/admin/users`);
    expect(again[0]?.status).toBe(302);
    expect(again[0]?.headers.location).toContain('fresh=1');
    const form = again.at(-1) as Page;
    expect(form.body).toContain('name="login"');
    expect(new URL(providerPages(again)[0]?.url ?? '').searchParams.get('max_age')).toBe('60');
    const back = await submitForm(browser, form, { login: 'alice', password: 'any' });
    expect(back.at(-1)?.status).toBe(200);
    expect(JSON.parse(back.at(-1)?.body ?? '{}')).toMatchObject({ url: '/admin/users' });
  }, 150_000);

  it('with two providers, the chooser of a first sign-in to the admin area asks the chosen one for max_age', async () => {
    const browser = new HttpBrowser();
    const pages = await browser.follow(`${twoProviders.origin}/admin/users`);
    expect(pages[0]?.headers.location).toBe(
      `${twoProviders.origin}/.gatehouse/login?rd=%2Fadmin%2Fusers&fresh=1`,
    );
    const chooser = pages.at(-1) as Page;
    const links = [...chooser.body.matchAll(/href="([^"]*idp=[^"]*)"/g)].map((m) =>
      (m[1] as string).replaceAll('&#38;', '&'),
    );
    expect(links).toEqual([
      '/.gatehouse/login?idp=dev&rd=%2Fadmin%2Fusers&fresh=1',
      '/.gatehouse/login?idp=dev2&rd=%2Fadmin%2Fusers&fresh=1',
    ]);
    const second = await browser.follow(`${twoProviders.origin}${links[1]}`);
    const atProvider = second.find((p) => p.url.startsWith(twoProviders.providers[1]?.issuer ?? '-'));
    expect(new URL(atProvider?.url ?? '').searchParams.get('max_age')).toBe('60');
    const form = second.at(-1) as Page;
    const back = await submitForm(browser, form, { login: 'alice', password: 'any' });
    expect(back.at(-1)?.status).toBe(200);
    expect(JSON.parse(back.at(-1)?.body ?? '{}')).toMatchObject({ url: '/admin/users' });
  });

  it('a session of a provider the application no longer has: a fresh sign-in goes to the providers it has, not round in redirects', async () => {
    const browser = new HttpBrowser();
    const chooser = (await browser.follow(`${providerRemoved.origin}/docs`)).at(-1) as Page;
    const first = chooser.body.match(/href="([^"]*idp=dev&[^"]*)"/)?.[1]?.replaceAll('&#38;', '&');
    const signedIn = await signInWithDevProvider(browser, `${providerRemoved.origin}${first}`, 'alice');
    expect(signedIn.at(-1)?.status).toBe(200);
    // The application drops its first provider; the session of it stays signed in.
    const config = providerRemoved.config;
    const auth = config.auth as NonNullable<typeof config.auth>;
    providerRemoved.sidecar.sidecar.install({
      ...config,
      auth: { ...auth, providers: auth.providers.filter((p) => p.name === 'dev2') },
      generation: 'fedcba9876543210',
    });
    expect((await browser.follow(`${providerRemoved.origin}/docs`)).at(-1)?.status).toBe(200);
    // The admin area asks for a recent authentication, which the old provider cannot give: the
    // login route starts a sign-in with the one left, instead of sending the page back.
    const pages = await browser.follow(`${providerRemoved.origin}/admin/users`);
    expect(pages.map((p) => p.status).slice(0, 2)).toEqual([302, 302]);
    const atProvider = pages.find((p) => p.url.startsWith(providerRemoved.providers[1]?.issuer ?? '-'));
    expect(atProvider, pages.map((p) => `${p.status} ${p.url}`).join('\n')).toBeDefined();
    expect(new URL(atProvider?.url ?? '').searchParams.get('max_age')).toBe('60');
    const back = await submitForm(browser, pages.at(-1) as Page, { login: 'alice', password: 'any' });
    expect(back.at(-1)?.status).toBe(200);
    expect(JSON.parse(back.at(-1)?.body ?? '{}')).toMatchObject({ url: '/admin/users' });
  });
});
