import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessPolicy } from '../../contract/api/access-policy.ts';
import { HttpBrowser, type Page, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// acrValues against a real OpenID Provider (oidc-provider with its development interactions,
// which never step up): the sign-in carries acr_values, the provider answers without the class
// asked, and the sidecar refuses that sign-in with a page saying so, not a loop of sign-ins.

/** The admin area takes phishing-resistant sign-ins only; engineers may use the rest. */
const POLICIES: Record<string, AccessPolicy['spec']> = {
  'admins-phishing-resistant': {
    decision: 'allow',
    include: [{ paths: ['/admin/**'] }],
    require: [{ groups: ['engineering'] }, { acrValues: ['phr'] }],
  },
  engineers: {
    decision: 'allow',
    include: [{ groups: ['engineering'] }],
    exclude: [{ paths: ['/admin/**'] }],
  },
};

let stack: SignInStack;
let twoProviders: SignInStack;
beforeAll(async () => {
  stack = await startSignInStack({ policies: POLICIES });
  twoProviders = await startSignInStack({ policies: POLICIES, providers: 2 });
});
afterAll(async () => {
  await twoProviders?.close();
  await stack?.close();
});

describe('a stronger sign-in for the admin area, with oidc-provider', () => {
  it('acr_values goes to the provider; its ID token without that acr fails the sign-in once, with a page, and the session goes on', async () => {
    const browser = new HttpBrowser();
    const signedIn = await signInWithDevProvider(browser, `${stack.origin}/docs`, 'alice');
    expect(signedIn.at(-1)?.status).toBe(200);

    const admin = await browser.follow(`${stack.origin}/admin/users`);
    expect(admin[0]?.status).toBe(302);
    expect(admin[0]?.headers.location).toBe(
      `${stack.origin}/.gatehouse/login?rd=%2Fadmin%2Fusers&fresh=1&acr=phr`,
    );
    const atProvider = admin.find((p) => p.url.startsWith(stack.providers[0]?.issuer ?? '-'));
    expect(new URL(atProvider?.url ?? '').searchParams.get('acr_values')).toBe('phr');
    const last = admin.at(-1) as Page;
    expect(last.status, admin.map((p) => `${p.status} ${p.url}`).join('\n')).toBe(401);
    expect(last.body).toContain('did not confirm the stronger sign-in');
    // Once: the provider was asked one time, not sent round.
    expect(
      admin.filter((p) => p.url.startsWith(stack.providers[0]?.issuer ?? '-')).length,
    ).toBeLessThanOrEqual(2);
    expect((await browser.follow(`${stack.origin}/docs`)).at(-1)?.status).toBe(200);
  });

  it('with two providers, the chooser of a first sign-in to the admin area carries the classes to each', async () => {
    const browser = new HttpBrowser();
    const pages = await browser.follow(`${twoProviders.origin}/admin/users`);
    // The policy that asks for the sign-in takes phr: the first sign-in asks for it already.
    expect(pages[0]?.headers.location).toBe(
      `${twoProviders.origin}/.gatehouse/login?rd=%2Fadmin%2Fusers&fresh=1&acr=phr`,
    );
    const chooser = pages.at(-1) as Page;
    const links = [...chooser.body.matchAll(/href="([^"]*idp=[^"]*)"/g)].map((m) =>
      (m[1] as string).replaceAll('&#38;', '&'),
    );
    expect(links).toEqual([
      '/.gatehouse/login?idp=dev&rd=%2Fadmin%2Fusers&fresh=1&acr=phr',
      '/.gatehouse/login?idp=dev2&rd=%2Fadmin%2Fusers&fresh=1&acr=phr',
    ]);
    const second = await browser.follow(`${twoProviders.origin}${links[1]}`);
    const atProvider = second.find((p) => p.url.startsWith(twoProviders.providers[1]?.issuer ?? '-'));
    expect(new URL(atProvider?.url ?? '').searchParams.get('acr_values')).toBe('phr');
  });
});
