import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplicationKeys } from '../../contract/config/auth-config.ts';
import { generateApplicationKeys, generateSigningJwk, keysToSecretData } from '../../contract/keys.ts';
import { freePort } from '../helpers/control-plane.ts';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import {
  type JwtVerifier,
  startJwtVerifier,
  type VerifierLanguage,
} from '../helpers/jwt-verifier-examples.ts';
import { getSignedIn as get, type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';

// The examples of docs/authentication.md ("Verify it in the application"), in Go, Python, Java and Node.js,
// each an application behind the built sidecar as shipped: it takes the identity the JWT says
// when the request came through the sidecar, and nothing that reaches it around the sidecar.
// The test holds the application's keys (a keys Secret in the config directory), so it can sign
// what only the sidecar should: tokens for another application, expired ones, a rotation.

const now = () => Math.floor(Date.now() / 1000);
const AUDIENCE = 'gatehouse:proc-app';

function keysFile(keys: ApplicationKeys): string {
  const data = keysToSecretData(keys);
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: proc-app-gatehouse-keys\nstringData: ${JSON.stringify(data)}\n`;
}

describe.each<{ language: VerifierLanguage; name: string }>([
  { language: 'go', name: 'Go (golang-jwt, keyfunc)' },
  { language: 'python', name: 'Python (PyJWT)' },
  { language: 'java', name: 'Java (Nimbus JOSE + JWT)' },
  { language: 'node', name: 'Node.js (jose)' },
])('the $name example verifies the identity JWT', ({ language }) => {
  let provider: ForgedProvider;
  let sidecar: SignInSidecar;
  let app: JwtVerifier;
  let keys: ApplicationKeys;
  let issuer: string;

  /** A token the way the sidecar signs one (ES256 with the application's key), with `claims` over the right ones. */
  async function token(claims: JWTPayload, signer = keys.signing[0]): Promise<string> {
    const jwk = signer as unknown as JWK;
    const t = now();
    return new SignJWT({
      sub: 'mallory',
      kind: 'user',
      iss: issuer,
      aud: AUDIENCE,
      iat: t,
      exp: t + 120,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing[0]?.kid as string, typ: 'JWT' })
      .sign(await importJWK(jwk, 'ES256'));
  }

  /** A request straight to the application, around the sidecar, with `assertion` as the JWT header. */
  async function around(assertion: string | undefined): Promise<number> {
    const response = await fetch(`${app.url}/whoami`, {
      headers: {
        ...(assertion !== undefined ? { 'x-gatehouse-jwt-assertion': assertion } : {}),
        'x-gatehouse-user': 'admin@example.com',
      },
    });
    await response.arrayBuffer();
    return response.status;
  }

  const keyFetches = () => sidecar.process.lines.filter((l) => l.uri === '/.gatehouse/jwks.json').length;

  beforeAll(async () => {
    provider = await startForgedProvider('gatehouse');
    keys = generateApplicationKeys('ES256');
    const port = await freePort();
    sidecar = await startSignInSidecar(provider.issuer, `http://127.0.0.1:${port}`, [], {}, undefined, {
      'keys.yaml': keysFile(keys),
    });
    issuer = `http://${sidecar.host}`;
    app = await startJwtVerifier(language, {
      // As in the pod: the sidecar over loopback, by a Host that is not the application's.
      jwksUrl: `http://localhost:${sidecar.port}/.gatehouse/jwks.json`,
      issuer,
      audience: AUDIENCE,
      port,
    });
  }, 240_000);
  afterAll(async () => {
    await app?.stop();
    await sidecar?.stop();
    await provider?.close();
  });

  it('a signed-in user through the sidecar: the application answers who it is, as the JWT says', async () => {
    provider.claims = { amr: ['pwd', 'mfa'], acr: 'phr' };
    const from = '127.0.0.81';
    const cookie = await sidecar.signIns.complete(from);
    const answer = await get(sidecar, '/whoami', from, cookie);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))).toEqual({
      sub: 'mallory',
      email: 'mallory@example.com',
      kind: 'user',
      groups: ['engineering'],
      amr: ['pwd', 'mfa'],
      acr: 'phr',
    });
  });

  it('around the sidecar: no token, a forged one, alg none, another application, another issuer, expired, no expiry: each 401', async () => {
    const forger = generateSigningJwk('ES256');
    const t = now();
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: keys.signing[0]?.kid })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'mallory', iss: issuer, aud: AUDIENCE, iat: t, exp: t + 120 }),
    ).toString('base64url')}.`;
    const noExpiry = await new SignJWT({ sub: 'mallory', iss: issuer, aud: AUDIENCE, iat: t })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing[0]?.kid as string })
      .sign(await importJWK(keys.signing[0] as unknown as JWK, 'ES256'));
    const refused = {
      none: await around(undefined),
      garbage: await around('not.a.token'),
      forged: await around(await token({}, forger)),
      algNone: await around(unsigned),
      otherApplication: await around(await token({ aud: 'gatehouse:other-app' })),
      otherIssuer: await around(await token({ iss: 'http://evil.example' })),
      expired: await around(await token({ iat: t - 600, exp: t - 300 })),
      noExpiry: await around(noExpiry),
    };
    expect(refused).toEqual({
      none: 401,
      garbage: 401,
      forged: 401,
      algNone: 401,
      otherApplication: 401,
      otherIssuer: 401,
      expired: 401,
      noExpiry: 401,
    });
    // The same token, right in every way, is taken: the refusals are the checks, not a broken setup.
    expect(await around(await token({}))).toBe(200);
  });

  it('started while the keys cannot be fetched: it starts, and refuses every token until it has them', async () => {
    const nowhere = await freePort();
    const blind = await startJwtVerifier(language, {
      jwksUrl: `http://127.0.0.1:${nowhere}/.gatehouse/jwks.json`,
      issuer,
      audience: AUDIENCE,
      port: await freePort(),
    });
    try {
      const response = await fetch(`${blind.url}/whoami`, {
        headers: { 'x-gatehouse-jwt-assertion': await token({}) },
      });
      await response.arrayBuffer();
      expect([401, 503]).toContain(response.status);
    } finally {
      await blind.stop();
    }
  });

  it('a key rotation: the application fetches the keys once more and takes tokens of the new key', async () => {
    const next = generateSigningJwk('ES256');
    const rotated: ApplicationKeys = { cookie: keys.cookie, signing: [next, ...keys.signing] };
    const loads = sidecar.process.lines.filter((l) => l.type === 'config_loaded').length;
    writeFileSync(join(sidecar.configDir, 'keys.yaml'), keysFile(rotated));
    await sidecar.process.waitForLine(
      (l) =>
        l.type === 'config_loaded' &&
        sidecar.process.lines.filter((m) => m.type === 'config_loaded').length > loads,
      10_000,
    );
    const fetched = keyFetches();
    provider.claims = {};
    const from = '127.0.0.82';
    const cookie = await sidecar.signIns.complete(from);
    const answer = await get(sidecar, '/whoami', from, cookie);
    expect(answer.status).toBe(200);
    expect(keyFetches()).toBe(fetched + 1);
  });

  it('hostile: 50 tokens naming made-up keys are refused at once and make no more than one fetch of the keys', async () => {
    const fetched = keyFetches();
    const started = performance.now();
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const made = generateSigningJwk('ES256');
      const t = now();
      statuses.push(
        await around(
          await new SignJWT({ sub: 'mallory', iss: issuer, aud: AUDIENCE, iat: t, exp: t + 120 })
            .setProtectedHeader({ alg: 'ES256', kid: `made-up-${i}` })
            .sign(await importJWK(made as unknown as JWK, 'ES256')),
        ),
      );
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(keyFetches() - fetched).toBeLessThanOrEqual(1);
  });
});
