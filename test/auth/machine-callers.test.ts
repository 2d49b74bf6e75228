import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { schemaErrors } from '../../contract/api/validate.ts';
import { UserinfoDocument } from '../../contract/userinfo.ts';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import { comparableHeaderName } from '../../sidecar/src/http/identity-headers.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { SPOOFS } from '../helpers/identity-spoofs.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'gatehouse:test-app';
const ci = newServiceToken();
const old = newServiceToken();
const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
const impostor = generateKeyPairSync('rsa', { modulusLength: 2048 });

let upstream: TestUpstream;
let gate: InProcessSidecar;
let jwksServer: Server;
const jwksAuthorization: (string | undefined)[] = [];

async function saToken(
  overrides: { sub?: string; aud?: string; iss?: string; exp?: number; key?: 'impostor' } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'cluster-key' })
    .setIssuer(overrides.iss ?? ISSUER)
    .setAudience(overrides.aud ?? AUDIENCE)
    .setSubject(overrides.sub ?? 'system:serviceaccount:jobs:reporter')
    .setIssuedAt(now - 10)
    .setExpirationTime(overrides.exp ?? now + 600)
    .sign(overrides.key === 'impostor' ? impostor.privateKey : signer.privateKey);
}

beforeAll(async () => {
  upstream = await startUpstream();
  jwksServer = createServer((req, res) => {
    jwksAuthorization.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        keys: [{ ...signer.publicKey.export({ format: 'jwk' }), kid: 'cluster-key', alg: 'RS256' }],
      }),
    );
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sa-'));
  writeFileSync(join(dir, 'token'), 'sidecar-own-token\n');
  gate = await startSidecar(
    testConfig(
      {
        upstream: { url: upstream.url },
        policies: [{ name: 'machines' }],
        authentication: {
          serviceTokens: {
            tokens: [
              { id: 'ci-bot', secretHash: ci.secretHash },
              { id: 'retired', secretHash: old.secretHash, expiresAt: '2020-01-01T00:00:00Z' },
            ],
          },
          serviceAccounts: {
            issuer: ISSUER,
            jwksUrl: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/openid/v1/jwks`,
            audiences: [AUDIENCE],
            bearerTokenFile: join(dir, 'token'),
          },
        },
      },
      {
        machines: {
          decision: 'service-auth',
          include: [
            { serviceTokens: ['ci-bot', 'retired'] },
            { serviceAccounts: [{ namespace: 'jobs', name: 'reporter' }] },
          ],
        },
      },
    ),
  );
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
  jwksServer.close();
});

async function call(headers: Record<string, string>) {
  const before = upstream.seen.length;
  const res = await request(`${gate.url}/api/report`, {
    headers: { accept: 'application/json', ...headers },
  });
  await res.body.text();
  return { status: res.statusCode, headers: res.headers, seen: upstream.seen.slice(before)[0] };
}

describe('service tokens', () => {
  it('admits a valid token: identity stamped, credentials not forwarded, token id (never the secret) logged', async () => {
    const { status, seen } = await call({
      'Cf-Access-Client-Id': 'ci-bot',
      'Cf-Access-Client-Secret': ci.secret,
    });
    expect(status).toBe(200);
    expect(seen?.headers['x-gatehouse-user']).toBe('service-token:ci-bot');
    expect(seen?.headers['cf-access-client-secret']).toBeUndefined();
    expect(seen?.headers['cf-access-client-id']).toBeUndefined();
    const claims = decodeJwt(seen?.headers['x-gatehouse-jwt-assertion'] as string);
    expect(claims).toMatchObject({ sub: 'service-token:ci-bot', kind: 'service-token', aud: AUDIENCE });
    const line = gate.records().at(-1);
    expect(line).toMatchObject({
      authMethod: 'service-token',
      identity: { kind: 'service-token', sub: 'service-token:ci-bot' },
    });
  });

  it.each([
    [
      'wrong secret',
      { 'Cf-Access-Client-Id': 'ci-bot', 'Cf-Access-Client-Secret': old.secret },
      'token_secret_mismatch',
      'ci-bot',
    ],
    [
      'unknown id',
      { 'Cf-Access-Client-Id': 'nobody', 'Cf-Access-Client-Secret': ci.secret },
      'token_unknown',
      'nobody',
    ],
    [
      'expired token',
      { 'Cf-Access-Client-Id': 'retired', 'Cf-Access-Client-Secret': old.secret },
      'token_expired',
      'retired',
    ],
    ['id without secret', { 'Cf-Access-Client-Id': 'ci-bot' }, 'token_incomplete', 'ci-bot'],
    ['secret without id', { 'Cf-Access-Client-Secret': ci.secret }, 'token_incomplete', null],
  ] as const)(
    '%s: 401, a service_token_failed event, nothing forwarded',
    async (_name, headers, reason, tokenId) => {
      const before = gate.events('service_token_failed').length;
      const { status, seen, headers: response } = await call(headers);
      expect(status).toBe(401);
      expect(response['www-authenticate']).toMatch(/invalid_token/);
      expect(seen).toBeUndefined();
      expect(gate.events('service_token_failed').at(before)).toMatchObject({ reason, tokenId });
    },
  );

  it('never writes a secret to the log', () => {
    const all = gate.lines.join('\n');
    expect(all).not.toContain(ci.secret);
    expect(all).not.toContain(old.secret);
  });
});

describe('Kubernetes ServiceAccount tokens', () => {
  it('admits a token for the application audience; Authorization is not forwarded', async () => {
    const { status, seen } = await call({ authorization: `Bearer ${await saToken()}` });
    expect(status).toBe(200);
    expect(seen?.headers['x-gatehouse-user']).toBe('system:serviceaccount:jobs:reporter');
    expect(seen?.headers.authorization).toBeUndefined();
    expect(gate.records().at(-1)).toMatchObject({
      authMethod: 'service-account',
      identity: { kind: 'service-account', sub: 'system:serviceaccount:jobs:reporter' },
    });
    expect(jwksAuthorization[0]).toBe('Bearer sidecar-own-token');
  });

  it.each([
    ['wrong audience', { aud: 'gatehouse:other-app' }, 'token_wrong_audience'],
    ['wrong issuer', { iss: 'https://evil.example' }, 'token_wrong_issuer'],
    ['expired', { exp: Math.floor(Date.now() / 1000) - 120 }, 'token_expired'],
    ['signed by another key', { key: 'impostor' as const }, 'token_bad_signature'],
    ['not a ServiceAccount', { sub: 'alice' }, 'token_not_service_account'],
  ])('%s: 401 and a token_failed event', async (_name, overrides, reason) => {
    const before = gate.events('token_failed').length;
    const { status, seen } = await call({ authorization: `Bearer ${await saToken(overrides)}` });
    expect(status).toBe(401);
    expect(seen).toBeUndefined();
    expect(gate.events('token_failed').at(before)).toMatchObject({ reason });
  });

  it('a valid token of another ServiceAccount is authenticated but refused by policy (403)', async () => {
    const { status } = await call({
      authorization: `Bearer ${await saToken({ sub: 'system:serviceaccount:jobs:other' })}`,
    });
    expect(status).toBe(403);
  });

  it('no credentials: 401 with WWW-Authenticate', async () => {
    const { status, headers } = await call({});
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toMatch(/^Bearer realm="gatehouse"/);
  });
});

describe('GET /.gatehouse/userinfo of a machine caller', () => {
  const userinfo = async (headers: Record<string, string>) => {
    const before = upstream.seen.length;
    const res = await request(`${gate.url}/.gatehouse/userinfo`, { headers });
    const body = await res.body.text();
    expect(upstream.seen.length).toBe(before);
    const document = JSON.parse(body) as Record<string, unknown>;
    if (res.statusCode === 200) expect(schemaErrors(UserinfoDocument, document, 'userinfo')).toEqual([]);
    return { status: res.statusCode, document };
  };

  it('a service token: its identity, no session', async () => {
    const out = await userinfo({ 'Cf-Access-Client-Id': 'ci-bot', 'Cf-Access-Client-Secret': ci.secret });
    expect(out).toEqual({
      status: 200,
      document: {
        sub: 'service-token:ci-bot',
        email: null,
        preferred_username: null,
        groups: [],
        idp: null,
        kind: 'service-token',
        sid: null,
        signedInAt: null,
        expiresAt: null,
        idleExpiresAt: null,
        authenticatedAt: null,
        amr: null,
        acr: null,
        groupsLeftOut: false,
      },
    });
  });

  it("a ServiceAccount token: its identity and the token's expiry; one of another account too (userinfo is not the application's)", async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const out = await userinfo({ authorization: `Bearer ${await saToken({ exp })}` });
    expect(out.status).toBe(200);
    expect(out.document).toMatchObject({
      sub: 'system:serviceaccount:jobs:reporter',
      kind: 'service-account',
      sid: null,
      expiresAt: new Date(exp * 1000).toISOString(),
    });
    const other = await userinfo({
      authorization: `Bearer ${await saToken({ sub: 'system:serviceaccount:jobs:other' })}`,
    });
    expect(other.document).toMatchObject({ sub: 'system:serviceaccount:jobs:other' });
  });

  it('a wrong secret: 401, as for every path', async () => {
    const res = await request(`${gate.url}/.gatehouse/userinfo`, {
      headers: { 'Cf-Access-Client-Id': 'ci-bot', 'Cf-Access-Client-Secret': old.secret },
    });
    await res.body.text();
    expect(res.statusCode).toBe(401);
  });
});

describe('identity header spoofing by an authenticated caller', () => {
  it.each(SPOOFS)('%s: the app sees exactly one value per identity header, the real one', async (spoof) => {
    const before = upstream.seen.length;
    const creds = `Cf-Access-Client-Id: ci-bot\r\nCf-Access-Client-Secret: ${ci.secret}\r\n`;
    const stamped = 'X-Gatehouse-User: mallory\r\nx_gatehouse_jwt_assertion: forged\r\n';
    const raw = `GET /x HTTP/1.1\r\nHost: localhost\r\n${creds}${spoof}\r\n${spoof}\r\n${stamped}Connection: close\r\n\r\n`;
    expect(statusOf(await rawRequest(gate.port, raw))).toBe(200);
    const seen = upstream.seen.slice(before)[0];
    const names = (seen?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map(comparableHeaderName);
    const spoofed = comparableHeaderName(spoof.split(':')[0] ?? '');
    if (spoofed !== 'x-gatehouse-user') expect(names).not.toContain(spoofed);
    expect(names.filter((n) => n === 'x-gatehouse-user')).toHaveLength(1);
    expect(names.filter((n) => n === 'x-gatehouse-jwt-assertion')).toHaveLength(1);
    expect(seen?.headers['x-gatehouse-user']).toBe('service-token:ci-bot');
    expect(seen?.headers['x-gatehouse-jwt-assertion']).not.toBe('forged');
  });
});

describe('a WebSocket a service token opened', () => {
  it("is closed at the token's expiry", async () => {
    const short = newServiceToken();
    const endsAt = Date.now() + 2_000;
    const wsUpstream = await startUpstream();
    const wss = new WebSocketServer({ server: wsUpstream.server });
    const shortGate = await startSidecar(
      testConfig(
        {
          upstream: { url: wsUpstream.url },
          policies: [{ name: 'machines' }],
          authentication: {
            serviceTokens: {
              tokens: [
                { id: 'short', secretHash: short.secretHash, expiresAt: new Date(endsAt).toISOString() },
              ],
            },
          },
        },
        { machines: { decision: 'service-auth', include: [{ serviceTokens: ['short'] }] } },
      ),
    );
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${shortGate.port}/stream`, {
        headers: { 'cf-access-client-id': 'short', 'cf-access-client-secret': short.secret },
      });
      await once(ws, 'open');
      await once(ws, 'close');
      expect(Date.now()).toBeGreaterThanOrEqual(endsAt);
      expect(Date.now()).toBeLessThan(endsAt + 1_000);
      expect(shortGate.events('websocket_closed').at(-1)).toMatchObject({ reason: 'credential_expired' });
    } finally {
      wss.close();
      await shortGate.close();
      await wsUpstream.close();
    }
  });
});

describe('a WebSocket a ServiceAccount token opened', () => {
  it("is closed at the token's expiry, with its event and line", async () => {
    const wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
    try {
      const expiresAt = Math.floor(Date.now() / 1000) + 2;
      const token = await saToken({ exp: expiresAt });
      const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/stream`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await once(ws, 'open');
      ws.send('ping');
      expect(String(((await once(ws, 'message')) as [Buffer])[0])).toBe('echo:ping');
      await once(ws, 'close');
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
      expect(Date.now()).toBeLessThan(expiresAt * 1000 + 1_000);
      expect(gate.events('websocket_closed').at(-1)).toMatchObject({ reason: 'credential_expired' });
      await expect
        .poll(() => gate.records().find((l) => l.uri === '/stream'))
        .toMatchObject({ status: 101, authMethod: 'service-account', error: 'credential_expired' });
    } finally {
      wss.close();
    }
  });
});
