import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, sleep, within } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { inProgressStack, lineOf, signedIn, upstreamDone } from '../helpers/requests-in-progress.ts';
import { openEventStream } from '../helpers/session-ends.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// Removing an application's cookie key is how a platform team ends every session sealed under it,
// and removing a service token (or replacing its secret) how it stops a leaked one. New requests
// with such a credential were refused at once, but what it had opened (a WebSocket, a stream of
// events, a long download) went on for as long as the client and the application liked.

const cookieKey = () => ({
  kid: `k${randomBytes(4).toString('hex')}`,
  secret: randomBytes(32).toString('base64url'),
});

describe('a cookie key removed', () => {
  const stack = inProgressStack();
  const install = stack.install;

  it('ends the streams of the sessions sealed under it; a rotation that keeps it does not', async () => {
    const { cookie, sessionId } = await signedIn(stack());
    const stream = await openEventStream(stack().origin, cookie, '/sealed/events');
    const original = stack().config.keys?.cookie ?? [];
    const fresh = cookieKey();

    // Rotation with overlap: the new key seals, the old one still opens.
    install((config) => ({
      ...config,
      keys: { ...(config.keys as NonNullable<SidecarConfig['keys']>), cookie: [fresh, ...original] },
    }));
    await sleep(300);
    expect(stack().sidecar.events('response_closed')).toEqual([]);

    // The old key removed: every session sealed under it ends, its stream too.
    const removedAt = performance.now();
    install((config) => ({
      ...config,
      keys: { ...(config.keys as NonNullable<SidecarConfig['keys']>), cookie: [fresh] },
    }));
    const ended = await within(stream.ended, 2_000, 'the stream cut');
    expect(ended.at - removedAt).toBeLessThan(1_000);
    expect(stack().sidecar.events('response_closed')).toEqual([
      expect.objectContaining({ reason: 'credential_revoked', requestId: expect.any(String) }),
    ]);
    expect(await lineOf(stack(), '/sealed/events')).toMatchObject({
      outcome: 'denied',
      error: 'credential_revoked',
      sessionId,
    });
    await upstreamDone('/sealed/events');
    // As every new request with that cookie is refused.
    const again = await request(`${stack().origin}/sealed/page`, {
      headers: { cookie, accept: 'application/json' },
    });
    await again.body.text();
    expect(again.statusCode).toBe(401);
  });
});

describe('a service token removed, or its secret replaced', () => {
  const leaked = newServiceToken();
  const other = newServiceToken();
  const replacement = newServiceToken();
  let upstream: TestUpstream;
  let sockets: WebSocketServer;
  let gate: InProcessSidecar;

  const config = (tokens: { id: string; secretHash: string }[]) =>
    testConfig(
      {
        upstream: { url: upstream.url },
        policies: [{ name: 'machines' }],
        authentication: { serviceTokens: { tokens } },
      },
      { machines: { decision: 'service-auth', include: [{ anyServiceToken: true }] } },
    );

  beforeAll(async () => {
    upstream = await startUpstream();
    sockets = new WebSocketServer({ server: upstream.server });
    sockets.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
    gate = await startSidecar(
      config([
        { id: 'ci-bot', secretHash: leaked.secretHash },
        { id: 'reporter', secretHash: other.secretHash },
      ]),
    );
  });
  afterAll(async () => {
    await gate?.close();
    sockets?.close();
    await upstream?.close();
  });

  /** A WebSocket through the sidecar with this token; resolves once open, with how it closed. */
  async function tunnel(id: string, secret: string) {
    const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/live`, {
      headers: { 'cf-access-client-id': id, 'cf-access-client-secret': secret },
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, closed };
  }

  it('closes the tunnels the token opened, and leaves the other tokens\u2019 open', async () => {
    const leakedTunnel = await tunnel('ci-bot', leaked.secret);
    const otherTunnel = await tunnel('reporter', other.secret);
    gate.sidecar.install(config([{ id: 'reporter', secretHash: other.secretHash }]));
    await within(leakedTunnel.closed, 2_000, 'the leaked token\u2019s tunnel closed');
    await sleep(200);
    expect(otherTunnel.ws.readyState).toBe(WebSocket.OPEN);
    expect(gate.events('websocket_closed')).toEqual([
      expect.objectContaining({ reason: 'credential_revoked' }),
    ]);
    const line = (await gate.waitForRecords(1)).find((r) => r.upgrade === true);
    expect(line).toMatchObject({ error: 'credential_revoked', identity: { sub: 'service-token:ci-bot' } });
    otherTunnel.ws.close();
    await otherTunnel.closed;
  });

  it('a secret replaced: the old secret\u2019s tunnel closed; a config that changes nothing of the token, none', async () => {
    gate.sidecar.install(
      config([
        { id: 'ci-bot', secretHash: leaked.secretHash },
        { id: 'reporter', secretHash: other.secretHash },
      ]),
    );
    const before = gate.events('websocket_closed').length;
    const oldSecret = await tunnel('ci-bot', leaked.secret);
    const kept = await tunnel('reporter', other.secret);
    // Another token added: nothing of these two changed.
    gate.sidecar.install(
      config([
        { id: 'ci-bot', secretHash: leaked.secretHash },
        { id: 'reporter', secretHash: other.secretHash },
        { id: 'nightly', secretHash: newServiceToken().secretHash },
      ]),
    );
    await sleep(300);
    expect(gate.events('websocket_closed')).toHaveLength(before);
    gate.sidecar.install(
      config([
        { id: 'ci-bot', secretHash: replacement.secretHash },
        { id: 'reporter', secretHash: other.secretHash },
      ]),
    );
    await within(oldSecret.closed, 2_000, 'the old secret\u2019s tunnel closed');
    await eventually('its event', () => gate.events('websocket_closed').length === before + 1);
    expect(gate.events('websocket_closed').at(-1)).toMatchObject({ reason: 'credential_revoked' });
    expect(kept.ws.readyState).toBe(WebSocket.OPEN);
    kept.ws.close();
    await kept.closed;
  });
});

describe('the ServiceAccount settings changed', () => {
  const ISSUER = 'https://kubernetes.default.svc.cluster.local';
  const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let upstream: TestUpstream;
  let sockets: WebSocketServer;
  let jwks: Server;
  let gate: InProcessSidecar;
  let config: (audiences: string[]) => SidecarConfig;

  beforeAll(async () => {
    upstream = await startUpstream();
    sockets = new WebSocketServer({ server: upstream.server });
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ keys: [{ ...signer.publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256' }] }),
      );
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sa-'));
    writeFileSync(join(dir, 'token'), 'sidecar-own-token\n');
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/keys`;
    config = (audiences) =>
      testConfig(
        {
          upstream: { url: upstream.url },
          policies: [{ name: 'machines' }],
          authentication: {
            serviceAccounts: { issuer: ISSUER, jwksUrl, audiences, bearerTokenFile: join(dir, 'token') },
          },
        },
        {
          machines: {
            decision: 'service-auth',
            include: [{ serviceAccounts: [{ namespace: 'jobs', name: 'reporter' }] }],
          },
        },
      );
    gate = await startSidecar(config(['gatehouse:reports']));
  });
  afterAll(async () => {
    await gate?.close();
    sockets?.close();
    jwks?.close();
    await upstream?.close();
  });

  it('a tunnel whose token\u2019s audience is no longer taken is closed; one still taken stays', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience('gatehouse:reports')
      .setSubject('system:serviceaccount:jobs:reporter')
      .setIssuedAt(now - 10)
      .setExpirationTime(now + 600)
      .sign(signer.privateKey);
    const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/live`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    // Another audience added: the token's is still taken.
    gate.sidecar.install(config(['gatehouse:reports', 'gatehouse:billing']));
    await sleep(300);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Its audience dropped.
    gate.sidecar.install(config(['gatehouse:billing']));
    await within(closed, 2_000, 'the tunnel closed');
    expect(gate.events('websocket_closed')).toEqual([
      expect.objectContaining({ reason: 'credential_revoked' }),
    ]);
  });
});
