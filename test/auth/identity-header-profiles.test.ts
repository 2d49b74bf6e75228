import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// Applications moving from oauth2-proxy or Cloudflare Access keep reading the headers they read
// today: the profile stamps them, and the Cloudflare one's JWT passes the check a Cloudflare
// Access application makes.

const stacks: SignInStack[] = [];
afterAll(async () => {
  for (const stack of stacks) await stack.close();
});

async function signedInHeaders(
  identityHeaders: Record<string, unknown>,
  assertion?: Record<string, unknown>,
) {
  const stack = await startSignInStack({
    authentication: { identityHeaders, ...(assertion ? { assertion } : {}) },
  });
  stacks.push(stack);
  const browser = new HttpBrowser();
  // A client's own copies of the profile's headers never reach the application.
  const pages = await signInWithDevProvider(browser, `${stack.origin}/whoami`, 'alice');
  const forged = await browser.fetch(`${stack.origin}/whoami`, {
    headers: {
      'cf-access-authenticated-user-email': 'mallory@example.com',
      'x-auth-request-email': 'mallory@example.com',
      'x-forwarded-preferred-username': 'mallory',
    },
  });
  const body = (page: { body: string } | undefined) =>
    (JSON.parse(page?.body ?? '{}') as { headers: Record<string, string> }).headers;
  return { stack, first: body(pages.at(-1)), forged: body(forged) };
}

describe('identity header profiles', () => {
  it('oauth2-proxy: X-Forwarded-* and X-Auth-Request-*, preferred username included', async () => {
    const { first, forged } = await signedInHeaders({ profile: 'oauth2-proxy' });
    for (const headers of [first, forged]) {
      expect(headers).toMatchObject({
        'x-forwarded-email': 'alice@example.com',
        'x-forwarded-user': 'alice',
        'x-forwarded-groups': 'engineering,admins',
        'x-forwarded-preferred-username': 'alice',
        'x-auth-request-email': 'alice@example.com',
        'x-auth-request-user': 'alice',
        'x-auth-request-groups': 'engineering,admins',
        'x-auth-request-preferred-username': 'alice',
      });
      expect(headers['x-gatehouse-email']).toBeUndefined();
      expect(typeof headers['x-gatehouse-jwt-assertion']).toBe('string');
    }
  });

  it('cloudflare: Cf-Access-Authenticated-User-Email, and a Cf-Access-Jwt-Assertion a Cloudflare Access application accepts', async () => {
    // The application's Access "AUD tag", kept as the audience so its configuration keeps it.
    const aud = '32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228';
    const { stack, first, forged } = await signedInHeaders({ profile: 'cloudflare' }, { audience: aud });
    expect(forged['cf-access-authenticated-user-email']).toBe('alice@example.com');
    expect(first['cf-access-authenticated-user-email']).toBe('alice@example.com');
    expect(first['x-gatehouse-jwt-assertion']).toBeUndefined();
    // As Cloudflare's own example application verifies it (jose): the team's certs, its issuer
    // (here Gatehouse's external URL) and the AUD tag, RS256 only.
    const certs = createRemoteJWKSet(new URL(`${stack.origin}/.gatehouse/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(first['cf-access-jwt-assertion'] as string, certs, {
      issuer: stack.origin,
      audience: aud,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ type: 'app', email: 'alice@example.com', sub: 'alice', aud: [aud] });
    expect(payload.nbf).toBe(payload.iat);
    // Another audience (another Access application) is refused.
    await expect(
      jwtVerify(first['cf-access-jwt-assertion'] as string, certs, {
        issuer: stack.origin,
        audience: 'other-app',
      }),
    ).rejects.toThrow();
  });
});
