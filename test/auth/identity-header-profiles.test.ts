import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../examples/demo/dev-provider.ts';
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

describe('identityHeaders.groupsFilter', () => {
  it('sends the application only the groups it names, in every groups header and the JWT; policies still see every group', async () => {
    const stack = await startSignInStack({
      authentication: { identityHeaders: { profile: 'oauth2-proxy', groupsFilter: ['admin*'] } },
    });
    stacks.push(stack);
    // The policy allows engineering, a group the application is not sent.
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/whoami`, 'alice');
    expect(pages.at(-1)?.status).toBe(200);
    const headers = (JSON.parse(pages.at(-1)?.body ?? '{}') as { headers: Record<string, string> }).headers;
    expect(headers['x-forwarded-groups']).toBe('admins');
    // The identity document tells the browser's scripts what the headers tell the application.
    const userinfo = await browser.fetch(`${stack.origin}/.gatehouse/userinfo`);
    expect(JSON.parse(userinfo.body)).toMatchObject({
      sub: 'alice',
      email: 'alice@example.com',
      preferred_username: 'alice',
      groups: ['admins'],
      idp: 'dev',
    });
    expect(headers['x-auth-request-groups']).toBe('admins');
    const certs = createRemoteJWKSet(new URL(`${stack.origin}/.gatehouse/jwks.json`));
    const { payload } = await jwtVerify(headers['x-gatehouse-jwt-assertion'] as string, certs, {
      issuer: stack.origin,
    });
    expect(payload.groups).toEqual(['admins']);
  });
});

describe('identity values outside ASCII', () => {
  // Before, a user whose email or any group held a character above U+00FF (a Japanese group
  // name, an internationalised email) got 502 on every request: the HTTP client refused the
  // header. Values now go as UTF-8 bytes, as oauth2-proxy sends them; the JWT carries the same.
  it('reach the application as UTF-8 bytes in every profile header, and as JSON in the JWT', async () => {
    const yuki = {
      email: 'yuki@例え.jp',
      name: '山田 由紀',
      groups: ['engineering', '開発チーム', 'Équipe'],
    };
    const stack = await startSignInStack({
      users: { ...DEMO_USERS, yuki },
      authentication: { identityHeaders: { profile: 'oauth2-proxy' } },
    });
    stacks.push(stack);
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/whoami`, 'yuki');
    expect(pages.at(-1)?.status).toBe(200);
    const userinfo = await browser.fetch(`${stack.origin}/.gatehouse/userinfo`);
    expect(JSON.parse(userinfo.body)).toMatchObject({ email: yuki.email, groups: yuki.groups });
    const headers = (JSON.parse(pages.at(-1)?.body ?? '{}') as { headers: Record<string, string> }).headers;
    // Node's parser reads header bytes as Latin-1: back to bytes, then read as UTF-8.
    const utf8 = (name: string) => Buffer.from(headers[name] ?? '', 'latin1').toString('utf8');
    for (const name of ['x-forwarded-email', 'x-auth-request-email']) expect(utf8(name)).toBe(yuki.email);
    for (const name of ['x-forwarded-groups', 'x-auth-request-groups'])
      expect(utf8(name)).toBe('engineering,開発チーム,Équipe');
    expect(utf8('x-forwarded-user')).toBe('yuki');
    const certs = createRemoteJWKSet(new URL(`${stack.origin}/.gatehouse/jwks.json`));
    const { payload } = await jwtVerify(headers['x-gatehouse-jwt-assertion'] as string, certs, {
      issuer: stack.origin,
    });
    expect(payload).toMatchObject({ email: yuki.email, groups: yuki.groups });
  });
});
