import { describe, expect, it } from 'vitest';
import { configSecrets, type SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { withoutSecrets } from '../../lib/defects.ts';
import { TEST_KEYS, testConfig } from '../helpers/fixtures.ts';

// What a defect's log line may quote of the error: never a credential it choked on.

const jwt =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZGEiLCJleHAiOjE3OTk5OTk5OTl9.MEUCIQD0Zx3yv2R8Q9n1Bf4YF6s';
const sealed = 'v1.k1.3q2+7w9A_bZfR0tLmN8pQ4sVxYc1DeFgHiJkLoPqRsTuVwXyZaBcDeFgH';
const secret = 'Zx9Qw3rT5yU7iO1pA2sD4fG6hJ8kL0zXcVbNm12345';

describe('a defect line without secrets', () => {
  it.each([
    ['a JWT in the message', `TypeError: bad token ${jwt} here`, 'TypeError: bad token [token] here'],
    [
      'a bearer credential',
      'Error: header was Bearer abc.def-123 then',
      'Error: header was Bearer [credential] then',
    ],
    [
      'a basic credential',
      'Error: authorization: Basic dXNlcjpwYXNz',
      'Error: authorization: Basic [credential]',
    ],
    ['a sealed cookie', `Error: could not open ${sealed}`, 'Error: could not open v1.k1.[opaque]'],
    ['a service token secret', `RangeError: ${secret}`, 'RangeError: [opaque]'],
    [
      'an ordinary message',
      'Error: planted defect at /srv/app/dist/sidecar/server.js:12:3',
      'Error: planted defect at /srv/app/dist/sidecar/server.js:12:3',
    ],
    [
      'a stack frame in a deep module path',
      'at Parser.execute (/app/node_modules/undici/lib/dispatcher/client-h1.js:612:20)',
      'at Parser.execute (/app/node_modules/undici/lib/dispatcher/client-h1.js:612:20)',
    ],
    [
      'a request id and a config generation',
      'Error: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 0123456789abcdef',
      'Error: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 0123456789abcdef',
    ],
  ])('%s', (_what, text, expected) => {
    expect(withoutSecrets(text)).toBe(expected);
  });
});

describe('the secrets the process knows, whatever their shape', () => {
  // Client secrets as providers make them: shorter than the opaque shape, or with `~` and `.`.
  const keycloak = 'kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA';
  const google = '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';
  const entra = 'Xq48Q~abcDEF.ghiJKL-mnoPQR_stuVWX~yz012';

  it.each([
    [
      'Keycloak',
      `Error: token request with client_secret=${keycloak} failed`,
      'Error: token request with client_secret=[secret] failed',
    ],
    ['Google', `Error: body ${google}`, 'Error: body [secret]'],
    ['Microsoft Entra', `Error: {"client_secret":"${entra}"}`, 'Error: {"client_secret":"[secret]"}'],
    ['twice in one message', `${keycloak}:${keycloak}`, '[secret]:[secret]'],
  ])('%s', (_what, text, expected) => {
    // Each slips past the shapes alone.
    expect(withoutSecrets(text)).not.toBe(expected);
    expect(withoutSecrets(text, [keycloak, google, entra])).toBe(expected);
  });

  it('a known value shorter than 8 characters is not looked for: it would match ordinary words', () => {
    expect(withoutSecrets('Error: invalid state', ['state', ''])).toBe('Error: invalid state');
  });
});

describe('the secrets of a config', () => {
  it('are its client secrets, its cookie keys and the private members of its signing keys', () => {
    const keys = TEST_KEYS('ES256');
    const config = testConfig({
      upstream: { url: 'http://127.0.0.1:9' },
      authentication: {
        externalUrl: 'http://127.0.0.1',
        identityProviders: [{ name: 'corp', issuer: 'http://127.0.0.1:9/', clientId: 'test' }],
      },
    });
    const withSecret: SidecarConfig = {
      ...config,
      auth: {
        ...config.auth,
        providers: config.auth.providers.map((p) => ({
          ...p,
          clientSecret: 'kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA',
        })),
      },
      keys,
    };
    const secrets = configSecrets(withSecret);
    expect(secrets).toContain('kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA');
    for (const key of keys.cookie) expect(secrets).toContain(key.secret);
    for (const jwk of keys.signing) expect(secrets).toContain(jwk.d);
    // Public members are no secret.
    for (const jwk of keys.signing) expect(secrets).not.toContain((jwk as Record<string, string>).x);
    expect(configSecrets({ ...testConfig({ upstream: { url: 'http://127.0.0.1:9' } }), keys: null })).toEqual(
      [],
    );
  });
});

describe('a long message', () => {
  it('a secret across the cut at 1,000 characters leaves no part of it', async () => {
    const { onDefect } = await import('../../lib/defects.ts');
    const secret = 'kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA';
    const reports: { error: string }[] = [];
    const listeners = process.listeners('uncaughtException');
    onDefect(
      (report) => reports.push(report),
      () => [secret],
    );
    const added = process.listeners('uncaughtException').filter((l) => !listeners.includes(l));
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      // "Error: " and 980 characters put the secret across the 1,000th.
      for (const listener of added)
        listener(new Error(`${'word '.repeat(196)}${secret} and more`), 'uncaughtException');
    } finally {
      process.stderr.write = write;
      for (const listener of added) process.off('uncaughtException', listener);
      for (const listener of process.listeners('unhandledRejection').slice(-1))
        process.off('unhandledRejection', listener);
    }
    expect(reports).toHaveLength(1);
    const error = reports[0]?.error ?? '';
    expect(error.length).toBe(1_000);
    expect(error).not.toContain(secret.slice(0, 8));
    expect(error).toContain('word [secret] and');
  });
});
