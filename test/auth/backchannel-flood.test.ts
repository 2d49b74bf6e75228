import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForgedProvider } from '../helpers/forged-provider.ts';
import { type ForgedSignIn, startForgedSignIn } from '../helpers/forged-sign-in.ts';
import type { InProcessSidecar } from '../helpers/in-process.ts';

// The back-channel logout route is open to anyone who can reach the sidecar. Logout tokens that
// name the real provider but are signed by another key, each with a key id never seen, ask the
// sidecar to fetch the provider's keys again: a stranger must not turn that into a flood of
// fetches at the provider, nor into anything but a refusal each.

let stack: ForgedSignIn;
let provider: ForgedProvider;
let gate: InProcessSidecar;

beforeAll(async () => {
  stack = await startForgedSignIn();
  ({ provider, gate } = stack);
});
afterAll(async () => {
  await stack?.close();
});

const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function forgedLogoutToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: provider.issuer,
    aud: 'gatehouse',
    iat: now,
    exp: now + 120,
    jti: randomBytes(8).toString('hex'),
    sub: 'alice',
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
  })
    .setProtectedHeader({ alg: 'RS256', kid: `never-seen-${randomBytes(6).toString('hex')}` })
    .sign(attacker);
}

describe('a flood of forged back-channel logout tokens', () => {
  it('each is refused as bad_signature; the provider keys are fetched at most twice', async () => {
    const tokens = await Promise.all(Array.from({ length: 200 }, forgedLogoutToken));
    const statuses = await Promise.all(
      tokens.map(async (token) => {
        const res = await request(`${gate.url}/.gatehouse/backchannel-logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `logout_token=${token}`,
        });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(statuses.every((s) => s === 400)).toBe(true);
    const refused = gate.events('backchannel_logout_refused');
    expect(refused).toHaveLength(200);
    expect(refused.every((e) => e.reason === 'bad_signature')).toBe(true);
    expect(gate.events('backchannel_logout')).toHaveLength(0);
    // The first fetch, and at most one more for an unknown key id (jose waits 30 s between them).
    expect(provider.hits.get('/jwks') ?? 0).toBeGreaterThanOrEqual(1);
    expect(provider.hits.get('/jwks') ?? 0).toBeLessThanOrEqual(2);
    const res = await request(`${gate.url}/.gatehouse/jwks.json`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
