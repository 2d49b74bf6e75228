import { describe, expect, it } from 'vitest';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import type { Session } from '../../sidecar/src/auth/session.ts';
import { createSessionJar } from '../../sidecar/src/auth/session-jar.ts';
import { TEST_KEYS } from '../helpers/fixtures.ts';
import { testSession } from '../helpers/test-session.ts';

const settings = { cookieName: '_gatehouse', absoluteMs: 8 * 3600_000, idleMs: 3600_000, secure: false };

const session = (sid: string, lifetimeS = 3600): Session => testSession(sid, lifetimeS);

/** The sealed cookie value a store() wrote for a session. */
async function sealedFor(jar: ReturnType<typeof createSessionJar>, s: Session): Promise<string> {
  const [cookie] = await jar.store(s, []);
  return decodeURIComponent((cookie ?? '').split(';')[0]?.split('=').slice(1).join('=') ?? '');
}

describe('session jar caches', () => {
  it('a signed-out session stays refused while thousands of other sessions pass through the caches', async () => {
    const jar = createSessionJar(settings, createSealer(TEST_KEYS('ES256').cookie));
    const victim = session('victim');
    const stolen = await sealedFor(jar, victim);
    expect(await jar.open(stolen)).toMatchObject({ sid: 'victim' });
    jar.end(victim);
    for (let i = 0; i < 12_000; i++) jar.end(session(`other-${i}`)); // more sign-outs than the session cache holds
    for (let i = 0; i < 200; i++) expect(await jar.open(stolen)).toBeUndefined();
  });

  it('bounds the sign-out list: past its limit the least recently used entry goes, and a replayed one stays', async () => {
    const jar = createSessionJar(settings, createSealer(TEST_KEYS('ES256').cookie), 100);
    const victim = session('victim');
    const quiet = session('quiet');
    const stolen = await sealedFor(jar, victim);
    const untouched = await sealedFor(jar, quiet);
    jar.end(quiet);
    jar.end(victim);
    for (let i = 0; i < 150; i++) {
      jar.end(session(`other-${i}`));
      expect(await jar.open(stolen)).toBeUndefined(); // the thief keeps trying: it stays refused
    }
    expect(await jar.open(untouched)).toMatchObject({ sid: 'quiet' }); // never tried again: forgotten
  });
});

describe('sessions by provider session (front-channel logout)', () => {
  const withProviderSession = (sid: string, psid: string, idp = 'corp', lifetimeS = 3600): Session => ({
    ...session(sid, lifetimeS),
    idp,
    psid,
  });
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['a session it stored, once', 'P1', 'corp', 'S1'],
    ['the same sid under another provider', 'P1', 'other', undefined],
    ['a sid it never saw', 'P2', 'corp', undefined],
  ] as const)('%s', async (_what, psid, provider, expected) => {
    const jar = createSessionJar(settings, createSealer(TEST_KEYS('ES256').cookie));
    await sealedFor(jar, withProviderSession('S1', 'P1'));
    expect(jar.takeProviderSession(provider, psid, now())?.sid).toBe(expected);
    expect(jar.takeProviderSession(provider, psid, now())).toBeUndefined(); // taken: a second call finds none
  });

  it('a session opened from its cookie is found, one signed out or expired is not', async () => {
    const sealer = createSealer(TEST_KEYS('ES256').cookie);
    const writer = createSessionJar(settings, sealer);
    const opened = await sealedFor(writer, withProviderSession('S1', 'P1'));
    const signedOut = withProviderSession('S2', 'P2');
    const expired = withProviderSession('S3', 'P3', 'corp', 1);
    const jar = createSessionJar(settings, sealer);
    expect(await jar.open(opened)).toMatchObject({ sid: 'S1' });
    await sealedFor(jar, signedOut);
    jar.end(signedOut);
    await sealedFor(jar, expired);
    expect(jar.takeProviderSession('corp', 'P1', now())?.sid).toBe('S1');
    expect(jar.takeProviderSession('corp', 'P2', now())).toBeUndefined();
    expect(jar.takeProviderSession('corp', 'P3', expired.exp)).toBeUndefined();
  });
});
