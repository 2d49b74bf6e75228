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
