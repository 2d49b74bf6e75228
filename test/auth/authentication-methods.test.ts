import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { statusesOf } from '../helpers/hostile.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// How the user authenticated, as the provider tells it (`amr`, `acr` of the ID token), is a fact
// policies may require: the built sidecar, as shipped, signed in to over raw sockets.

let upstream: TestUpstream;
let provider: ForgedProvider;
let gateway: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream();
  provider = await startForgedProvider('gatehouse');
  gateway = await startSignInSidecar(
    provider.issuer,
    upstream.url,
    [],
    {},
    {
      // The documented example: engineers, with a second factor recorded by the provider.
      'engineers-mfa': {
        decision: 'allow',
        include: [{ groups: ['engineering'] }],
        require: [{ claim: { name: 'amr', contains: 'mfa' } }],
      },
      'phishing-resistant': {
        decision: 'allow',
        include: [{ claim: { name: 'acr', equals: 'phr' } }],
      },
    },
  );
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Signs in from `from` with the provider's tokens carrying `claims`; then GET `path` with the session. */
async function signedInGet(from: string, claims: Record<string, unknown>, path: string) {
  provider.claims = claims;
  const cookie = await gateway.signIns.complete(from);
  const client = await gateway.signIns.send(path, from, cookie);
  await client.closed;
  const line = await gateway.process.waitForLine(
    (l) => l.type === 'request' && l.clientIp === from && l.uri === path,
  );
  return { status: statusesOf(client.received())[0], decision: line.decision };
}

describe('policies on how the user authenticated (amr, acr)', () => {
  it('a sign-in with a second factor passes `claim: {name: amr, contains: mfa}`', async () => {
    const seen = upstream.seen.length;
    const out = await signedInGet('127.0.0.31', { amr: ['pwd', 'mfa'] }, '/reports/mfa');
    expect(out.status).toBe(200);
    expect(out.decision).toEqual({
      action: 'allow',
      policy: 'engineers-mfa',
      rule: 'include[0].groups',
      reason: 'group_listed',
    });
    expect(upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/reports/mfa']);
  });

  it('a password alone is refused by the same policy', async () => {
    const seen = upstream.seen.length;
    const out = await signedInGet('127.0.0.32', { amr: ['pwd'] }, '/reports/pwd');
    expect(out.status).toBe(403);
    expect(out.decision).toMatchObject({ action: 'deny', reason: 'no_policy_matched' });
    expect(upstream.seen.length).toBe(seen);
  });

  it('`acr` is kept too: a policy on the authentication context class', async () => {
    const out = await signedInGet('127.0.0.33', { groups: [], acr: 'phr' }, '/reports/acr');
    expect(out.status).toBe(200);
    expect(out.decision).toMatchObject({ policy: 'phishing-resistant', rule: 'include[0].claim' });
  });
});
