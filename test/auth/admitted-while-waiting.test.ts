import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { dial, eventually, sleep, statusesOf, watchSocket } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { type SignInSidecar, startSignInSidecar } from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A request is judged by the config in force when it arrives. When one of its stages waits (a
// session refreshed at the provider, a token checked against keys still being fetched), a sign-out,
// a revocation or a policy change can be installed meanwhile, and the recheck of requests in
// progress at that install does not see it yet: it must be judged again before it goes to the
// application, not let through under the config it arrived under.

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => upstream?.close());

const seenAt = (path: string) => upstream.seen.filter((s) => s.url === path).length;

describe('a session signed out while its request waits for a refresh at the provider', () => {
  let provider: ForgedProvider;
  let gateway: SignInSidecar;
  beforeAll(async () => {
    provider = await startForgedProvider('gatehouse');
    provider.forgery = 'refresh_hangs'; // provider tokens due in a second; refreshes held
    gateway = await startSignInSidecar(provider.issuer, upstream.url);
  });
  afterAll(async () => {
    await gateway?.stop();
    await provider?.close();
  });

  /** Signs out the session of `cookie` from a page of the site (a same-origin POST). */
  async function signOut(cookie: string): Promise<number> {
    const socket = await dial(gateway.port, '127.0.0.8');
    if (!socket) throw new Error('cannot connect');
    const client = watchSocket(socket);
    socket.write(
      `POST /.gatehouse/logout HTTP/1.1\r\nHost: ${gateway.host}\r\nOrigin: http://${gateway.host}\r\n` +
        `Cookie: ${cookie}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    return statusesOf(await client.waitFor(/\r\n\r\n/))[0] ?? 0;
  }

  it('the refresh answered after the sign-out: the request is refused, never sent to the application', async () => {
    const cookie = await gateway.signIns.complete('127.0.0.7');
    await sleep(2_100); // the provider tokens are due: the next request refreshes them
    const waiting = await gateway.signIns.send('/private/report', '127.0.0.7', cookie);
    await eventually('the refresh held at the provider', () => provider.tokenRequests.open === 1);

    expect(await signOut(cookie)).toBe(303);
    await eventually('the sign-out written', () => gateway.process.lines.some((l) => l.type === 'logout'));
    expect(provider.tokenRequests.releaseRefreshes()).toBe(1);

    const answer = await waiting.waitFor(/\r\n\r\n/);
    expect(statusesOf(answer)[0]).toBe(401);
    expect(answer).toMatch(/^www-authenticate: /im);
    await sleep(200);
    expect(seenAt('/private/report')).toBe(0);
    const line = await gateway.process.waitForLine(
      (l) => l.type === 'request' && l.uri === '/private/report',
    );
    expect(line).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'session_revoked',
      upstreamMs: null,
    });
    // The session refreshed (the provider said yes) and signed out: it ends at the sign-out.
    expect(gateway.process.lines.some((l) => l.type === 'session_refreshed')).toBe(true);
    expect(gateway.process.lines.some((l) => l.type === 'response_closed')).toBe(false);
  }, 20_000);

  it('a client that resets while its refresh is held and its session ends: one line, nothing sent on', async () => {
    const cookie = await gateway.signIns.complete('127.0.0.9');
    await sleep(2_100);
    const before = gateway.process.lines.filter(
      (l) => l.type === 'request' && l.uri === '/private/reset',
    ).length;
    const waiting = await gateway.signIns.send('/private/reset', '127.0.0.9', cookie);
    await eventually('the refresh held at the provider', () => provider.tokenRequests.open === 1);
    waiting.socket.resetAndDestroy();
    expect(await signOut(cookie)).toBe(303);
    provider.tokenRequests.releaseRefreshes();
    await eventually(
      'its request line',
      () =>
        gateway.process.lines.filter((l) => l.type === 'request' && l.uri === '/private/reset').length ===
        before + 1,
    );
    await sleep(200);
    const lines = gateway.process.lines.filter((l) => l.type === 'request' && l.uri === '/private/reset');
    expect(lines).toHaveLength(before + 1);
    expect(lines.at(-1)).toMatchObject({ status: 499, outcome: 'client_abort' });
    expect(seenAt('/private/reset')).toBe(0);
  }, 20_000);
});

describe('a policy changed while a token is checked against keys still being fetched', () => {
  const ISSUER = 'https://kubernetes.default.svc.cluster.local';
  const AUDIENCE = 'gatehouse:test-app';
  const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let jwks: Server;
  /** Keys are answered this long after they are asked for. */
  let keysDelayMs = 0;
  let gate: InProcessSidecar;
  let config: (reporters: string[]) => SidecarConfig;

  const token = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'cluster-key' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('system:serviceaccount:jobs:reporter')
      .setIssuedAt(now - 10)
      .setExpirationTime(now + 600)
      .sign(signer.privateKey);
  };

  beforeAll(async () => {
    jwks = createServer((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            keys: [{ ...signer.publicKey.export({ format: 'jwk' }), kid: 'cluster-key', alg: 'RS256' }],
          }),
        );
      }, keysDelayMs);
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sa-'));
    writeFileSync(join(dir, 'token'), 'sidecar-own-token\n');
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/openid/v1/jwks`;
    config = (reporters) =>
      testConfig(
        {
          upstream: { url: upstream.url },
          policies: [{ name: 'machines' }],
          authentication: {
            serviceAccounts: {
              issuer: ISSUER,
              jwksUrl,
              audiences: [AUDIENCE],
              bearerTokenFile: join(dir, 'token'),
            },
          },
        },
        {
          machines: {
            decision: 'service-auth',
            include: [{ serviceAccounts: reporters.map((name) => ({ namespace: 'jobs', name })) }],
          },
        },
      );
    gate = await startSidecar(config(['reporter']));
  });
  afterAll(async () => {
    await gate?.close();
    jwks?.close();
  });

  const call = async (path: string) => {
    const res = await request(`${gate.url}${path}`, {
      headers: { authorization: `Bearer ${await token()}`, accept: 'application/json' },
    });
    await res.body.text();
    return res.statusCode;
  };

  it('a policy that no longer admits the caller: 403, never sent to the application', async () => {
    keysDelayMs = 500;
    const answer = call('/api/denied-meanwhile');
    await sleep(200);
    gate.sidecar.install(config(['someone-else']));
    expect(await answer).toBe(403);
    expect(seenAt('/api/denied-meanwhile')).toBe(0);
    const line = gate.records().find((r) => r.uri === '/api/denied-meanwhile');
    expect(line).toMatchObject({ status: 403, outcome: 'denied', error: 'policy_changed', upstreamMs: null });
  });

  it('a policy that still admits the caller: it goes on, as it would have', async () => {
    gate.sidecar.install(config(['reporter'])); // new keys fetched with the new config
    keysDelayMs = 500;
    const answer = call('/api/still-allowed');
    await sleep(200);
    gate.sidecar.install(config(['reporter', 'another']));
    expect(await answer).toBe(200);
    expect(seenAt('/api/still-allowed')).toBe(1);
  });
});
