import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOKIE_CHUNK_SIZE, signInChunksFor } from '../../sidecar/src/auth/session-jar.ts';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { statusesOf } from '../helpers/hostile.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A session lives in the browser's cookies, and the browser sends them back in one Cookie header
// on every request. A user in many groups (whose ID token, kept for the sign-out at the provider,
// names them all again) got a session of five cookies: every later request, sign-out included,
// was refused with 431 by the sidecar's own 16 KiB limit on a request head, until the user
// cleared the cookies by hand. The built sidecar as shipped, with a provider whose ID tokens carry
// the groups (as Keycloak's and Entra ID's do).

/** What a sidecar with the default --max-header-size (16 KiB) lets a sign-in take. */
const SIGN_IN_CHUNKS = signInChunksFor();

let provider: ForgedProvider;
let upstream: TestUpstream;
let gateway: SignInSidecar;

beforeAll(async () => {
  provider = await startForgedProvider('gatehouse');
  upstream = await startUpstream();
  gateway = await startSignInSidecar(provider.issuer, upstream.url);
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

const cookieValues = (text: string) =>
  [...text.matchAll(/^set-cookie: ([^=]+)=([^;\r]*)/gim)].map((m) => ({
    name: m[1] as string,
    value: m[2] as string,
  }));

/** A sign-in as far as the callback's answer: its status, its Set-Cookie values and the session cookies. */
async function signIn(from: string) {
  const started = await gateway.signIns.start(from);
  const authorize = await fetch(started.location, { redirect: 'manual' });
  const back = new URL(authorize.headers.get('location') ?? '');
  const callback = await gateway.signIns.send(`${back.pathname}${back.search}`, from, started.cookie);
  const answer = await callback.waitFor(/\r\n\r\n[\s\S]*<\/html>|\r\n\r\n$/, 5_000);
  const session = cookieValues(answer).filter((c) => c.value !== '' && !c.name.includes('_tx_'));
  return { status: statusesOf(answer)[0], answer, session };
}

describe('a session too large for the cookies a browser sends back', () => {
  it('may take 3 cookies beside a 16 KiB request head, fewer or more as --max-header-size says', () => {
    expect([8_192, 16_384, 32_768, 1_048_576].map(signInChunksFor)).toEqual([1, 3, 5, 5]);
    expect(SIGN_IN_CHUNKS).toBe(3);
  });

  it('is stored without its ID token when that makes it fit: the user signs in and is served', async () => {
    provider.claims = { groups: ['engineering', ...Array.from({ length: 129 }, () => randomUUID())] };
    const { status, session } = await signIn('127.0.0.2');
    expect(status).toBe(302);
    expect(session.length).toBeLessThanOrEqual(SIGN_IN_CHUNKS);
    const bytes = session.reduce((sum, c) => sum + c.value.length, 0);
    expect(bytes).toBeLessThanOrEqual(SIGN_IN_CHUNKS * COOKIE_CHUNK_SIZE);
    const cookie = session.map((c) => `${c.name}=${c.value}`).join('; ');
    const page = await gateway.signIns.send('/hello', '127.0.0.2', cookie);
    await page.waitFor(/^HTTP\/1\.1 200/, 5_000);
  });

  it('past that, the sign-in is refused with a page that says why, and sets no session: nothing locks the browser out', async () => {
    const longName = (i: number) => `/corp/platform/team-${i}-of-the-platform-organisation/members`;
    provider.claims = { groups: ['engineering', ...Array.from({ length: 200 }, (_, i) => longName(i))] };
    const { status, answer, session } = await signIn('127.0.0.3');
    expect(status).toBe(500);
    expect(answer).toMatch(/more than a sign-in can hold \(201 groups\)/);
    expect(session).toEqual([]);
    const failed = await gateway.process.waitForLine(
      (l) => l.type === 'login_failed' && l.reason === 'session_too_large',
    );
    expect(failed.detail).toMatch(/^\d+ bytes sealed, 201 groups$/);
    // The browser keeps no cookie that would make its next requests too large.
    const next = await gateway.signIns.send('/hello', '127.0.0.3');
    await next.waitFor(/^HTTP\/1\.1 (302|401)/, 5_000);
  });
});
