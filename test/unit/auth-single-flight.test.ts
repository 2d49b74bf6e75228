import { describe, expect, it } from 'vitest';
import { importSigningKeys } from '../../contract/keys.ts';
import { createAssertionSigner } from '../../sidecar/src/auth/assertion.ts';
import { createSealer, type Sealer } from '../../sidecar/src/auth/sealed.ts';
import type { Session } from '../../sidecar/src/auth/session.ts';
import { createSessionJar } from '../../sidecar/src/auth/session-jar.ts';
import type { PolicyIdentity } from '../../sidecar/src/policy/input.ts';
import { TEST_KEYS } from '../helpers/fixtures.ts';
import { testSession } from '../helpers/test-session.ts';

// A pod's first burst, or a busy caller whose JWT is due for renewal: many requests at once need
// the same unsealed session or the same identity JWT. One decryption and one signature serve them
// all; before, each request queued its own on the thread pool (a fresh sidecar under 200 clients
// of one user answered its first requests after 2 s).

const settings = { cookieName: '_gatehouse', absoluteMs: 8 * 3600_000, idleMs: 3600_000, secure: false };
const keys = TEST_KEYS('ES256');

const session = (sid: string): Session => testSession(sid, 3600, ['staff']);

/** The sealer, with its unsealings counted. */
function countingSealer(): { sealer: Sealer; opens: () => number } {
  const inner = createSealer(keys.cookie);
  let opens = 0;
  return {
    sealer: {
      ...inner,
      open: (...args: Parameters<Sealer['open']>) => {
        opens += 1;
        return inner.open(...args);
      },
    },
    opens: () => opens,
  };
}

describe('one unsealing per cookie at a time', () => {
  it('fifty requests with the same new cookie unseal it once and all get the session', async () => {
    const sealed = await createSealer(keys.cookie).seal('session', session('s1'));
    const { sealer, opens } = countingSealer();
    const jar = createSessionJar(settings, sealer);
    const sessions = await Promise.all(Array.from({ length: 50 }, () => jar.open(sealed)));
    expect(opens()).toBe(1);
    for (const s of sessions) expect(s?.sid).toBe('s1');
    expect((await jar.open(sealed))?.sid).toBe('s1'); // now from the cache
    expect(opens()).toBe(1);
  });

  it('a forged cookie is tried once per burst, refused for each request, and tried again later', async () => {
    const { sealer, opens } = countingSealer();
    const jar = createSessionJar(settings, sealer);
    const forged = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC';
    const answers = await Promise.all(Array.from({ length: 20 }, () => jar.open(forged)));
    expect(answers.every((a) => a === undefined)).toBe(true);
    expect(opens()).toBe(1);
    expect(await jar.open(forged)).toBeUndefined();
    expect(opens()).toBe(2); // a refusal is not remembered as a session
  });

  it('a session ended while it was being unsealed is refused to every request that waited', async () => {
    const s = session('s2');
    const sealed = await createSealer(keys.cookie).seal('session', s);
    const jar = createSessionJar(settings, countingSealer().sealer);
    const waiting = Array.from({ length: 10 }, () => jar.open(sealed));
    jar.end(s);
    expect(await Promise.all(waiting)).toEqual(Array(10).fill(undefined));
  });
});

describe('one signature per caller at a time', () => {
  const signer = () =>
    createAssertionSigner(
      {
        issuer: 'https://gatehouse.test',
        audience: 'app',
        algorithm: 'ES256',
        claims: 'gatehouse',
        lifetimeMs: 60_000,
      },
      importSigningKeys(keys.signing),
    );
  const alice: PolicyIdentity = {
    kind: 'user',
    sub: 'alice',
    email: 'alice@example.com',
    groups: ['staff'],
    idp: 'corp',
    claims: {},
    serviceTokenId: null,
    serviceAccount: null,
  };

  it('fifty requests of one caller without a JWT share one signature; the next renewal signs anew', async () => {
    const assertions = signer();
    const now = Date.now();
    const jwts = await Promise.all(
      Array.from({ length: 50 }, () => assertions.sign('alice', alice, 's1', now)),
    );
    expect(new Set(jwts).size).toBe(1); // each JWT has its own jti: fifty signatures would differ
    expect(assertions.cached('alice', now)).toBe(jwts[0]);
    const renewed = await assertions.sign('alice', alice, 's1', now + 40_000);
    expect(renewed).not.toBe(jwts[0]);
  });

  it('different callers are signed separately, at once', async () => {
    const assertions = signer();
    const now = Date.now();
    const [a, b] = await Promise.all([
      assertions.sign('alice', alice, 's1', now),
      assertions.sign('bob', { ...alice, sub: 'bob' }, 's2', now),
    ]);
    expect(a).not.toBe(b);
    const payload = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString());
    expect(payload(a as string).sub).toBe('alice');
    expect(payload(b as string).sub).toBe('bob');
  });
});
