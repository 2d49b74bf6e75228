import { describe, expect, it } from 'vitest';
import type { AccessApplication } from '../../contract/api/access-application.ts';
import { renderSidecarConfig } from '../../contract/config/render.ts';
import { redactedConfig } from '../../contract/config/sidecar-config.ts';
import { generateApplicationKeys } from '../../contract/keys.ts';
import { withoutGatehouseCookies, withoutGatehouseSetCookies } from '../../sidecar/src/auth/cookies.ts';
import { createServiceTokenVerifier, hashSecret } from '../../sidecar/src/auth/service-tokens.ts';
import { testApplication } from '../helpers/fixtures.ts';

type Auth = NonNullable<AccessApplication['spec']['authentication']>;
const provider = {
  name: 'corp',
  issuer: 'https://idp.example.com',
  clientId: 'gh',
  clientSecretRef: { name: 'idp', key: 'secret' },
};

const SECRETS: Record<string, Record<string, string>> = { idp: { secret: 's3cret' } };

function render(authentication: Auth, keys: unknown = generateApplicationKeys('ES256'), secrets = SECRETS) {
  return renderSidecarConfig({
    application: testApplication({ policies: [], authentication }),
    secrets: new Map(Object.entries(secrets)),
    keys,
  });
}

function errorsOf(result: ReturnType<typeof render>): string[] {
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('rendering spec.authentication', () => {
  it.each<[string, Auth, string, unknown?, Record<string, Record<string, string>>?]>([
    [
      'externalUrl missing',
      { identityProviders: [provider] },
      'spec.authentication.externalUrl: is required with identityProviders',
    ],
    [
      'externalUrl host not served',
      { externalUrl: 'https://other.example', identityProviders: [provider] },
      'is not one of spec.hosts',
    ],
    [
      'plain http issuer off loopback',
      {
        externalUrl: 'https://app.test',
        identityProviders: [{ ...provider, issuer: 'http://idp.example.com' }],
      },
      'must use https',
    ],
    [
      'plain http Microsoft Graph off loopback',
      {
        externalUrl: 'https://app.test',
        identityProviders: [{ ...provider, groupsOverage: { graphUrl: 'http://graph.example.com' } }],
      },
      'spec.authentication.identityProviders[0].groupsOverage.graphUrl: must use https',
    ],
    [
      'provider listed twice',
      { externalUrl: 'https://app.test', identityProviders: [provider, provider] },
      'corp is listed twice',
    ],
    [
      'client secret Secret missing',
      { externalUrl: 'https://app.test', identityProviders: [provider] },
      'no Secret named idp',
      undefined,
      {},
    ],
    [
      'client secret key missing',
      { externalUrl: 'https://app.test', identityProviders: [provider] },
      'Secret idp has no key secret',
      undefined,
      { idp: {} },
    ],
    [
      'keys missing',
      { externalUrl: 'https://app.test', identityProviders: [provider] },
      'needs keys (Secret test-app-gatehouse-keys)',
      null,
    ],
    [
      'signing key of the wrong algorithm',
      { externalUrl: 'https://app.test', identityProviders: [provider], assertion: { algorithm: 'RS256' } },
      'must be RS256',
    ],
    [
      'same header twice',
      {
        serviceTokens: { tokens: [] },
        serviceAccounts: { issuer: 'x', jwksUrl: 'https://k/jwks', audiences: ['a'] },
        identityHeaders: { email: 'X-Id', user: 'x-id' },
      },
      'x-id would carry two things',
    ],
  ])('%s', (_name, authentication, expected, keys, secrets) => {
    const result =
      keys === null
        ? renderSidecarConfig({
            application: testApplication({ policies: [], authentication }),
            secrets: new Map(Object.entries(SECRETS)),
          })
        : render(authentication, undefined, secrets ?? SECRETS);
    expect(errorsOf(result).join('\n')).toContain(expected);
  });

  it.each([
    ['https://app.test', undefined, 'https://app.test'],
    ['https://app.test/', undefined, 'https://app.test'],
    ['https://app.test/grafana', '/grafana', 'https://app.test/grafana'],
    ['https://app.test/grafana/', '/grafana', 'https://app.test/grafana'],
    ['https://app.test:8443/tools/grafana', '/tools/grafana', 'https://app.test:8443/tools/grafana'],
    [
      "https://app.test/a-b_c.d~e!$&'()*+,=:@",
      "/a-b_c.d~e!$&'()*+,=:@",
      "https://app.test/a-b_c.d~e!$&'()*+,=:@",
    ],
  ])('externalUrl %s: base path %s, JWT issuer %s', (externalUrl, basePath, issuer) => {
    const result = render({ externalUrl, identityProviders: [provider] });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.auth.basePath).toBe(basePath);
    expect(result.config.auth.externalOrigin).toBe(new URL(externalUrl).origin);
    expect(result.config.auth.assertion.issuer).toBe(issuer);
  });

  it.each([
    'https://app.test/a/../b',
    'https://app.test/a/./b',
    'https://app.test/a//b',
    'https://app.test/caf%C3%A9',
    'https://app.test/a;b',
    'https://app.test/a b',
    'https://app.test/wiki/.gatehouse',
    'https://app.test/caf\u00e9',
  ])('refuses externalUrl %s with the path and what a path may hold', (externalUrl) => {
    const errors = errorsOf(render({ externalUrl, identityProviders: [provider] })).join('\n');
    expect(errors).toMatch(
      /spec\.authentication\.externalUrl: (path .* must be plain segments|must match pattern)/,
    );
  });

  it('renders defaults: Secure cookies on https, Cloudflare header names, gatehouse headers, ES256 2m JWT', () => {
    const result = render({ externalUrl: 'https://app.test', identityProviders: [provider] });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const auth = result.config.auth;
    expect(auth.session).toEqual({
      cookieName: '_gatehouse',
      absoluteMs: 43_200_000,
      idleMs: 3_600_000,
      secure: true,
    });
    expect(auth.serviceTokens.clientIdHeader).toBe('cf-access-client-id');
    expect(auth.identityHeaders).toEqual({
      email: ['x-gatehouse-email'],
      user: ['x-gatehouse-user'],
      groups: ['x-gatehouse-groups'],
      preferredUsername: [],
      assertion: 'x-gatehouse-jwt-assertion',
    });
    expect(auth.assertion).toEqual({
      issuer: 'https://app.test',
      audience: 'gatehouse:test-app',
      algorithm: 'ES256',
      claims: 'gatehouse',
      lifetimeMs: 120_000,
    });
    expect(auth.providers[0]?.scopes).toEqual(['openid', 'email', 'profile']);
    const printed = JSON.stringify(redactedConfig(result.config));
    expect(printed).not.toContain('s3cret');
    expect(printed).not.toContain(result.config.keys?.cookie[0]?.secret);
  });

  it.each([
    [
      'oauth2-proxy',
      {},
      {
        email: ['x-forwarded-email', 'x-auth-request-email'],
        preferredUsername: ['x-forwarded-preferred-username', 'x-auth-request-preferred-username'],
        assertion: 'x-gatehouse-jwt-assertion',
      },
      { algorithm: 'ES256', claims: 'gatehouse' },
    ],
    [
      'cloudflare',
      {},
      { email: ['cf-access-authenticated-user-email'], assertion: 'cf-access-jwt-assertion' },
      { algorithm: 'RS256', claims: 'cloudflare' },
    ],
    [
      'cloudflare',
      { email: 'X-Email' },
      { email: ['x-email'], assertion: 'cf-access-jwt-assertion' },
      { algorithm: 'RS256', claims: 'cloudflare' },
    ],
  ])('the %s profile (%o) stamps the names its applications read', (profile, overrides, names, assertion) => {
    const result = render(
      {
        serviceTokens: { tokens: [] },
        serviceAccounts: { issuer: 'x', jwksUrl: 'https://k/jwks', audiences: ['a'] },
        identityHeaders: { profile: profile as 'cloudflare', ...overrides },
      },
      generateApplicationKeys(assertion.algorithm as 'RS256'),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.auth.identityHeaders).toMatchObject(names);
    expect(result.config.auth.assertion).toMatchObject(assertion);
  });

  it('renders a groups filter only when one is given, each pattern once; refuses a pattern with a comma', () => {
    const base = {
      serviceTokens: { tokens: [] },
      serviceAccounts: { issuer: 'x', jwksUrl: 'https://k/jwks', audiences: ['a'] },
    };
    const none = render(base);
    if (!none.ok) throw new Error(JSON.stringify(none.errors));
    expect('groupsFilter' in none.config.auth.identityHeaders).toBe(false);
    const some = render({ ...base, identityHeaders: { groupsFilter: ['team-*', 'admins', 'team-*'] } });
    if (!some.ok) throw new Error(JSON.stringify(some.errors));
    expect(some.config.auth.identityHeaders.groupsFilter).toEqual(['team-*', 'admins']);
    const comma = render({ ...base, identityHeaders: { groupsFilter: ['a,b'] } });
    expect(comma.ok ? [] : comma.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      expect.stringMatching(
        /spec\.authentication\.identityHeaders\.groupsFilter\[0\]: must not contain a comma/,
      ),
    ]);
  });

  it('refuses one header name for two things, naming it', () => {
    const result = render({
      serviceTokens: { tokens: [] },
      serviceAccounts: { issuer: 'x', jwksUrl: 'https://k/jwks', audiences: ['a'] },
      identityHeaders: { profile: 'oauth2-proxy', email: 'X-Auth-Request-User' },
    });
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([
      'x-auth-request-user would carry two things: email, user, groups and assertion need different header names',
    ]);
  });
});

describe('service token verifier', () => {
  const verify = createServiceTokenVerifier({
    clientIdHeader: 'a',
    clientSecretHeader: 'b',
    tokens: [
      { id: 'live', sha256: hashSecret('right').toString('hex'), expiresAt: null },
      { id: 'old', sha256: hashSecret('right').toString('hex'), expiresAt: 1_000 },
    ],
  });
  it.each([
    ['live', 'right', 5_000, 'ok'],
    ['live', 'wrong', 5_000, 'token_secret_mismatch'],
    ['live', '', 5_000, 'token_incomplete'],
    ['nobody', 'right', 5_000, 'token_unknown'],
    ['old', 'right', 5_000, 'token_expired'],
    ['old', 'right', 999, 'ok'],
    ['bad id!', 'right', 5_000, 'token_incomplete'],
  ])('%s / %s at %i -> %s', (id, secret, now, expected) => {
    const result = verify(id, secret, now);
    expect(result.ok ? 'ok' : result.reason).toBe(expected);
  });

  it('tells when an accepted token ends (a tunnel it opens ends then)', () => {
    expect(verify('old', 'right', 999)).toMatchObject({ ok: true, expiresAt: 1_000 });
    expect(verify('live', 'right', 5_000)).toMatchObject({ ok: true, expiresAt: null });
  });
});

describe('withoutGatehouseCookies', () => {
  it.each([
    ['a=1; _gatehouse=x; b=2', 'a=1; b=2'],
    ['_gatehouse=x; _gatehouse_1=y', null],
    ['__Host-_gatehouse=x; keep=1', 'keep=1'],
    ['_GATEHOUSE_tx_abc=x; keep=1', 'keep=1'],
    ['other=_gatehouse', 'other=_gatehouse'],
    ['plain=1', 'plain=1'],
  ])('%s -> %s', (input, expected) => {
    expect(withoutGatehouseCookies(input, '_gatehouse')).toBe(expected);
  });

  it('answers as lower-casing the whole header would, on made-up latin1 headers and bases', () => {
    // The earlier form: the whole header lower-cased before looking for the base.
    const reference = (header: string, base: string): string | null => {
      const lowerBase = base.toLowerCase();
      if (!header.toLowerCase().includes(lowerBase)) return header;
      const kept: string[] = [];
      for (const part of header.split(';')) {
        const eq = part.indexOf('=');
        const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
        const bare = name.startsWith('__host-')
          ? name.slice(7)
          : name.startsWith('__secure-')
            ? name.slice(9)
            : name;
        if (bare.startsWith(lowerBase)) continue;
        const trimmed = part.trim();
        if (trimmed !== '') kept.push(trimmed);
      }
      return kept.length === 0 ? null : kept.join('; ');
    };
    let x = 12345;
    const next = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const bases = ['_gatehouse', 'GH.s+1', 'a(b)*c'];
    const letters = 'aAbBgGhHtTeEuUsS_.+()*c=; \u00c0\u00e0\u00ff\u00b5\u00df';
    for (let i = 0; i < 20_000; i++) {
      const base = bases[next(bases.length)] as string;
      const pieces: string[] = [];
      for (let p = next(6); p >= 0; p--) {
        const r = next(4);
        if (r === 0) pieces.push(base);
        else if (r === 1) pieces.push(base.toUpperCase());
        else pieces.push(Array.from({ length: next(6) }, () => letters[next(letters.length)]).join(''));
      }
      const header = pieces.join(next(2) === 0 ? '; ' : '=');
      expect(withoutGatehouseCookies(header, base)).toBe(reference(header, base));
    }
  });
});

describe('withoutGatehouseSetCookies (the application\u2019s Set-Cookie lines)', () => {
  it.each<[string, boolean]>([
    ['theme=dark; Path=/', true],
    ['_gatehouse=x; Path=/; HttpOnly', false],
    ['_GATEHOUSE=x', false],
    ['__Host-_gatehouse=x; Path=/; Secure', false],
    ['__SECURE-_gatehouse=x; Secure', false],
    ['_gatehouse.1=x', false],
    ['_gatehouse_tx_7=x; Path=/.gatehouse/', false],
    ['=_gatehouse=x; Path=/', false], // no name: the browser sends `_gatehouse=x`
    ['  =  _gatehouse=x', false],
    ['_gatehouse', false], // no `=`: the browser sends `_gatehouse` alone
    ['  _gatehouse  =x', false],
    ['other=_gatehouse', true],
    ['other=1; Path=/_gatehouse', true],
    ['gatehouse=1', true],
    ['_gatehous=1', true],
    ['=other=1', true],
    ['', true],
  ])('%j kept: %s', (line, kept) => {
    const result = withoutGatehouseSetCookies(['a=1', line, 'b=2'], '_gatehouse');
    expect(result.kept).toEqual(kept ? ['a=1', line, 'b=2'] : ['a=1', 'b=2']);
    expect(result.dropped).toBe(kept ? 0 : 1);
  });

  it('compares the base as given, its regular-expression characters literally', () => {
    expect(withoutGatehouseSetCookies(['GH.s+1=x', 'GHxs+1=y', 'gh.S+1_tx_1=z'], 'GH.s+1')).toEqual({
      kept: ['GHxs+1=y'],
      dropped: 2,
    });
  });
});

describe('groupsOverage as rendered', () => {
  it.each([
    ['absent: not rendered (sidecars of earlier versions take the config)', undefined, undefined],
    [
      'empty: the global Graph, groups by id',
      {},
      { graphUrl: 'https://graph.microsoft.com', groupField: 'id' },
    ],
    [
      'a national cloud, groups by name',
      { graphUrl: 'https://graph.microsoft.us', groupField: 'displayName' as const },
      { graphUrl: 'https://graph.microsoft.us', groupField: 'displayName' },
    ],
    [
      'loopback over http',
      { graphUrl: 'http://127.0.0.1:9' },
      { graphUrl: 'http://127.0.0.1:9', groupField: 'id' },
    ],
  ])('%s', (_what, groupsOverage, expected) => {
    const result = render({
      externalUrl: 'https://app.test',
      identityProviders: [{ ...provider, ...(groupsOverage ? { groupsOverage } : {}) }],
    });
    if (!result.ok) throw new Error(errorsOf(result).join('; '));
    expect(result.config.auth.providers[0]?.groupsOverage).toEqual(expected);
  });
});
