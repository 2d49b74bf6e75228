import { describe, expect, it } from 'vitest';
import { createSidecarVerifier, tokenShapeProblem } from '../../operator/src/delivery/sidecar-identity.ts';

const NOW = 1_800_000_000_000;
const jwt = (claims: object | string) =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(typeof claims === 'string' ? claims : JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('tokenShapeProblem: what a stream token must look like before a TokenReview is asked', () => {
  const cases: [string, string, string | undefined][] = [
    ['a projected token for gatehouse', jwt({ aud: ['gatehouse'], exp: NOW / 1000 + 600 }), undefined],
    ['aud as a string', jwt({ aud: 'gatehouse', exp: NOW / 1000 + 600 }), undefined],
    [
      'several audiences',
      jwt({ aud: ['https://kubernetes.default.svc', 'gatehouse'], exp: NOW / 1000 + 1 }),
      undefined,
    ],
    ['a made-up string', 'not-a-token', 'not a JWT'],
    ['four parts', 'a.b.c.d', 'not a JWT'],
    ['a payload that is not JSON', jwt('{nope'), 'not a JWT'],
    ['a payload that is null', jwt('null'), 'not a JWT'],
    ['another audience', jwt({ aud: ['vault'], exp: NOW / 1000 + 600 }), 'not for audience gatehouse'],
    ['no audience', jwt({ exp: NOW / 1000 + 600 }), 'not for audience gatehouse'],
    ['expired', jwt({ aud: ['gatehouse'], exp: NOW / 1000 }), 'expired or without exp'],
    ['no exp', jwt({ aud: ['gatehouse'] }), 'expired or without exp'],
  ];
  it.each(cases)('%s', (_name, token, problem) => {
    expect(tokenShapeProblem(token, NOW)).toBe(problem);
  });
});

describe('the stream verifier against made-up tokens', () => {
  it('asks the API server nothing for a token that cannot be one (each was a TokenReview)', async () => {
    let reviews = 0;
    const client = {
      create: async () => {
        reviews++;
        return { status: { authenticated: false, error: 'invalid bearer token' } };
      },
    } as unknown as Parameters<typeof createSidecarVerifier>[0];
    const verify = createSidecarVerifier(client, { synced: Promise.resolve(), get: () => undefined });
    for (const token of ['not-a-token', 'a.b.c', jwt({ aud: ['vault'], exp: Date.now() / 1000 + 600 })])
      await expect(verify(token)).rejects.toMatchObject({ reason: 'token_invalid', status: 401 });
    expect(reviews).toBe(0);
    // One that may be a token is reviewed.
    await expect(verify(jwt({ aud: ['gatehouse'], exp: Date.now() / 1000 + 600 }))).rejects.toMatchObject({
      reason: 'token_invalid',
    });
    expect(reviews).toBe(1);
  });
});
