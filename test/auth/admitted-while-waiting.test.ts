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
// application, not let through under the config it arrived under. Hostile and broken clients at
// that moment: reset (RST), half-closed (FIN), trickling an upload, reading nothing; the sidecar's
// shutdown with a refresh held is in provider-call-abort-hostile.test.ts.

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

describe('hostile clients whose request waits for a refresh when their session ends', () => {
  let provider: ForgedProvider;
  let gateway: SignInSidecar;
  beforeAll(async () => {
    provider = await startForgedProvider('gatehouse');
    provider.forgery = 'refresh_hangs';
    gateway = await startSignInSidecar(provider.issuer, upstream.url);
  });
  afterAll(async () => {
    await gateway?.stop();
    await provider?.close();
  });

  /**
   * Signs in from `from`, lets the provider tokens fall due, sends `head` (and `body`) with the
   * session cookie on a new connection, waits for its refresh at the provider, signs the session
   * out, then lets the provider answer the refresh.
   */
  async function waitingThroughSignOut(from: string, head: (cookie: string) => string, body = '') {
    const cookie = await gateway.signIns.complete(from);
    await sleep(2_100);
    const socket = await dial(gateway.port, from, true);
    if (!socket) throw new Error('cannot connect');
    const client = watchSocket(socket);
    socket.write(head(cookie) + body);
    await eventually('the refresh held at the provider', () => provider.tokenRequests.open === 1);
    return {
      client,
      async signOutAndRelease(beforeRelease: () => void = () => undefined) {
        const out = await dial(gateway.port, from);
        if (!out) throw new Error('cannot connect');
        const signingOut = watchSocket(out);
        out.write(
          `POST /.gatehouse/logout HTTP/1.1\r\nHost: ${gateway.host}\r\nOrigin: http://${gateway.host}\r\n` +
            `Cookie: ${cookie}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        expect(statusesOf(await signingOut.waitFor(/\r\n\r\n/))[0]).toBe(303);
        beforeRelease();
        expect(provider.tokenRequests.releaseRefreshes()).toBe(1);
      },
    };
  }

  const linesOf = (uri: string) => gateway.process.lines.filter((l) => l.type === 'request' && l.uri === uri);

  it('half-closed (FIN) after its request: answered 401 once, the connection closed, never sent on', async () => {
    const w = await waitingThroughSignOut(
      '127.0.0.16',
      (cookie) => `GET /private/fin HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\n\r\n`,
    );
    w.client.socket.end(); // FIN: nothing more to send, still reading
    await w.signOutAndRelease();
    const text = await w.client.waitFor(/\r\n\r\n/);
    expect(statusesOf(text)).toEqual([401]);
    await w.client.until(() => w.client.isClosed(), 3_000);
    expect(w.client.isClosed()).toBe(true);
    await eventually('its line', () => linesOf('/private/fin').length === 1);
    expect(linesOf('/private/fin')[0]).toMatchObject({ status: 401, error: 'session_revoked' });
    expect(seenAt('/private/fin')).toBe(0);
  });

  it('an upload trickled while its refresh is held: 401 once, the body never forwarded, one line', async () => {
    const w = await waitingThroughSignOut(
      '127.0.0.17',
      (cookie) =>
        `POST /private/upload HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\n` +
        'Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
      'x'.repeat(1_000),
    );
    const trickle = setInterval(() => {
      if (!w.client.socket.destroyed) w.client.socket.write('y'.repeat(100));
    }, 50);
    try {
      await w.signOutAndRelease();
      const text = await w.client.waitFor(/\r\n\r\n/);
      expect(statusesOf(text)).toEqual([401]);
      await eventually('its line', () => linesOf('/private/upload').length === 1);
      await sleep(300);
      expect(linesOf('/private/upload')).toHaveLength(1);
      expect(linesOf('/private/upload')[0]).toMatchObject({
        status: 401,
        outcome: 'denied',
        upstreamMs: null,
      });
      expect(seenAt('/private/upload')).toBe(0);
    } finally {
      clearInterval(trickle);
      w.client.socket.destroy();
    }
  });

  it('a client that reads nothing of its answer: the answer is small, the connection does not stay', async () => {
    const w = await waitingThroughSignOut(
      '127.0.0.18',
      (cookie) =>
        `GET /private/silent HTTP/1.1\r\nHost: ${gateway.host}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    );
    w.client.socket.pause(); // reads nothing
    await w.signOutAndRelease();
    await eventually('its line', () => linesOf('/private/silent').length === 1);
    expect(linesOf('/private/silent')[0]).toMatchObject({ status: 401, error: 'session_revoked' });
    expect(seenAt('/private/silent')).toBe(0);
    w.client.socket.resume();
    expect(statusesOf(await w.client.waitFor(/\r\n\r\n/))).toEqual([401]);
    // The sidecar ended its side (this client keeps its own open).
    await w.client.until(() => w.client.socket.readableEnded, 3_000);
    expect(w.client.socket.readableEnded).toBe(true);
  });
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
