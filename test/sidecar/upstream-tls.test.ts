import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createSecureServer as createSecureHttp2Server, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createServingCertificate,
  type KeyPair,
} from '../../operator/src/tls/certificates.ts';
import { eventually, openRaw, upgradeRequest } from '../helpers/hostile.ts';
import {
  applicationYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { clientCertificate } from '../helpers/tls.ts';

// An application that serves only HTTPS (Argo CD's server, the Kubernetes Dashboard, Vault's UI)
// with a certificate of its own CA could not be put behind the sidecar: every request was 502
// "The application sent an invalid response" with no errorCause, and nothing trusted its CA.
// The shipped sidecar in front of real TLS servers: each failure says what to fix, a CA from a
// Secret and the application's own name (checked on 127.0.0.1, as an injected sidecar connects)
// make it work, WebSocket upgrades included, and a handshake that never comes is bounded.

const DAY = 86_400_000;
const ca = createCertificateAuthority('wiki internal CA', new Date(), DAY);
const servers: (HttpsServer | TcpServer | Http2SecureServer)[] = [];
const sidecars: SidecarProcess[] = [];
const held: Socket[] = [];

/** An HTTPS application with this certificate: answers `over tls <path>`, and 101 to a WebSocket handshake. */
async function httpsApplication(certificate: KeyPair): Promise<number> {
  const server = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    res.end(`over tls ${req.url}`);
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (data) => socket.write(data)); // echo
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const CA_SECRET = `---
apiVersion: v1
kind: Secret
metadata: {name: wiki-ca}
stringData: ${JSON.stringify({ 'ca.crt': ca.cert })}
`;

/** A sidecar for https://<host>:<port> (connecting to 127.0.0.1:<port>), with these tls settings. */
async function sidecarFor(
  port: number,
  options: { host?: string; tls?: Record<string, unknown>; connect?: string; maxConnections?: number } = {},
): Promise<{ sidecar: SidecarProcess; configDir: string }> {
  const host = options.host ?? 'wiki.internal';
  const yaml = (tls?: Record<string, unknown>) =>
    applicationYaml({
      hosts: ['127.0.0.1'],
      upstream: {
        url: `https://${host}:${port}`,
        timeouts: { connect: options.connect ?? '2s' },
        ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
        ...(tls ? { tls } : {}),
      },
    }) + (tls?.caSecretRef ? CA_SECRET : '');
  const configDir = writeConfigDir(yaml(options.tls));
  const sidecar = await startSidecarProcess(configDir, ['--upstream-address', `127.0.0.1:${port}`]);
  sidecars.push(sidecar);
  return { sidecar, configDir };
}

const WITH_CA = { caSecretRef: { name: 'wiki-ca', key: 'ca.crt' } };

async function get(sidecar: SidecarProcess, path: string) {
  const res = await request(`http://127.0.0.1:${sidecar.port}${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

/** A WebSocket handshake through the sidecar gets its 101, and a frame's bytes come back (the application echoes). */
async function echoThroughUpgrade(sidecar: SidecarProcess): Promise<void> {
  const client = await openRaw(sidecar.port);
  client.socket.write(upgradeRequest('/ws'));
  await eventually('the 101', () => client.received().includes('101 Switching Protocols'), 5_000);
  client.socket.write('ping');
  await eventually('the echo', () => client.received().endsWith('ping'), 5_000);
  client.socket.destroy();
}

const lineOf = (sidecar: SidecarProcess, path: string) =>
  sidecar.waitForLine((l) => l.type === 'request' && l.uri === path, 5_000);

let good: number;
let goodCertificate: KeyPair;
let expired: number;
let otherName: number;
let silent: number;

beforeAll(async () => {
  const now = new Date();
  goodCertificate = createServingCertificate(ca, ['wiki.internal'], now, DAY);
  good = await httpsApplication(goodCertificate);
  expired = await httpsApplication(
    createServingCertificate(ca, ['wiki.internal'], new Date(now.getTime() - 3 * DAY), DAY),
  );
  otherName = await httpsApplication(createServingCertificate(ca, ['other.internal'], now, DAY));
  // Takes the connection and never says a word: no TLS handshake ever comes.
  const mute = createTcpServer((socket) => {
    held.push(socket);
    socket.on('error', () => undefined);
  });
  servers.push(mute);
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  silent = (mute.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  for (const socket of held) socket.destroy();
  for (const server of servers) server.close();
});

describe('an https application', () => {
  it('with a certificate of its own CA: 502 tls_untrusted, counted; trusted once the CA is given, without a restart', async () => {
    const { sidecar, configDir } = await sidecarFor(good);
    expect(sidecar.lines.find((l) => l.type === 'config_loaded')).toMatchObject({
      upstreamTls: { serverName: 'wiki.internal', ca: 'public' },
    });
    expect(await get(sidecar, '/first')).toMatchObject({ status: 502 });
    expect(await lineOf(sidecar, '/first')).toMatchObject({
      status: 502,
      error: 'upstream_unavailable',
      errorCause: 'tls_untrusted',
    });
    const metrics = await (await request(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).body.text();
    expect(metrics).toContain('gatehouse_upstream_failures_total{app="proc-app",failure="tls_untrusted"} 1');
    // The CA in a Secret: the reload builds a new pool that trusts it.
    writeFileSync(
      join(configDir, 'app.yaml'),
      applicationYaml({
        hosts: ['127.0.0.1'],
        upstream: { url: `https://wiki.internal:${good}`, tls: WITH_CA },
      }) + CA_SECRET,
    );
    await sidecar.waitForLine((l) => l.type === 'config_loaded' && l !== sidecar.lines[0], 5_000);
    await eventually('the CA trusted', async () => (await get(sidecar, '/again')).status === 200, 5_000);
    expect(await get(sidecar, '/trusted')).toEqual({ status: 200, body: 'over tls /trusted' });
  });

  it('checked for its own name on 127.0.0.1, as an injected sidecar connects; a WebSocket upgrade too', async () => {
    const { sidecar } = await sidecarFor(good, { tls: WITH_CA });
    // Its config_loaded line says where it forwards and how the certificate is checked.
    expect(sidecar.lines.find((l) => l.type === 'config_loaded')).toMatchObject({
      upstream: `https://127.0.0.1:${good}`,
      upstreamTls: { serverName: 'wiki.internal', ca: 'secret' },
    });
    expect(await get(sidecar, '/named')).toEqual({ status: 200, body: 'over tls /named' });
    // When the application's certificate expires, for the alert a week ahead.
    const metrics = await (await request(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).body.text();
    const notAfter = Math.floor(Date.parse(new X509Certificate(goodCertificate.cert).validTo) / 1000);
    expect(metrics).toContain(
      `gatehouse_upstream_certificate_expiry_timestamp_seconds{server_name="wiki.internal"} ${notAfter}`,
    );
    await echoThroughUpgrade(sidecar);
  });

  it('a url that is an address, with serverName: checked for the name', async () => {
    const { sidecar } = await sidecarFor(good, {
      host: '127.0.0.1',
      tls: { ...WITH_CA, serverName: 'wiki.internal' },
    });
    expect(await get(sidecar, '/by-address')).toEqual({ status: 200, body: 'over tls /by-address' });
  });

  it.each([
    ['a certificate for another name', 'tls_name_mismatch', () => otherName],
    ['an expired certificate', 'tls_expired', () => expired],
  ])('%s: 502 %s, never served', async (_case, cause, port) => {
    const { sidecar } = await sidecarFor(port(), { tls: WITH_CA });
    const path = `/${cause}`;
    expect((await get(sidecar, path)).status).toBe(502);
    expect(await lineOf(sidecar, path)).toMatchObject({ error: 'upstream_unavailable', errorCause: cause });
  });

  it('that offers HTTP/2 is spoken to in HTTP/1.1, as the proxy relays it: a WebSocket upgrade too', async () => {
    const offersH2 = createSecureHttp2Server(
      { cert: goodCertificate.cert, key: goodCertificate.key, allowHTTP1: true },
      (req, res) => res.end(`over HTTP/${req.httpVersion}`),
    );
    offersH2.on('upgrade', (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data) => socket.write(data)); // echo
      socket.on('error', () => undefined);
    });
    servers.push(offersH2);
    await new Promise<void>((resolve) => offersH2.listen(0, '127.0.0.1', resolve));
    const { sidecar } = await sidecarFor((offersH2.address() as { port: number }).port, { tls: WITH_CA });
    expect(await get(sidecar, '/version')).toEqual({ status: 200, body: 'over HTTP/1.1' });
    expect(await get(sidecar, '/again')).toEqual({ status: 200, body: 'over HTTP/1.1' });
    // Over HTTP/2 this upgrade was answered 502.
    await echoThroughUpgrade(sidecar);
  });

  it('an https url in front of a plain-HTTP port: tls_handshake', async () => {
    const plain = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    servers.push(plain);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const { sidecar } = await sidecarFor((plain.address() as { port: number }).port, { tls: WITH_CA });
    expect((await get(sidecar, '/plain')).status).toBe(502);
    expect(await lineOf(sidecar, '/plain')).toMatchObject({ errorCause: 'tls_handshake' });
  });
});

describe('an https application that asks for a client certificate (mutual TLS)', () => {
  const client = clientCertificate('gatehouse-wiki');
  let mutual: number;
  beforeAll(async () => {
    const server = createHttpsServer(
      {
        cert: goodCertificate.cert,
        key: goodCertificate.key,
        ca: client.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => res.end(`client ${(req.socket as TLSSocket).getPeerCertificate().subject.CN}`),
    );
    server.on('upgrade', (req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.write(`client ${(req.socket as TLSSocket).getPeerCertificate().subject.CN}|`);
      socket.on('data', (data) => socket.write(data)); // echo
      socket.on('error', () => undefined);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mutual = (server.address() as { port: number }).port;
  });

  const CLIENT_SECRET = `---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: {name: wiki-client}
stringData: ${JSON.stringify({ 'tls.crt': client.chain, 'tls.key': client.key })}
`;

  it('without one: 502 tls_client_certificate, never served (over TLS 1.3 the application refuses after the handshake)', async () => {
    const { sidecar } = await sidecarFor(mutual, { tls: WITH_CA });
    expect((await get(sidecar, '/anonymous')).status).toBe(502);
    expect(await lineOf(sidecar, '/anonymous')).toMatchObject({
      error: 'upstream_unavailable',
      errorCause: 'tls_client_certificate',
    });
    // The connections it refused do not stand for later failures of others.
    expect((await get(sidecar, '/anonymous-again')).status).toBe(502);
    expect(await lineOf(sidecar, '/anonymous-again')).toMatchObject({ errorCause: 'tls_client_certificate' });
  });

  it.each(['-tls1_3', '-tls1_2'] as const)(
    'with one it does not take (another CA), from OpenSSL\u2019s server over %s: 502 tls_client_certificate',
    async (version) => {
      // OpenSSL's own server (as nginx, Go and most TLS stacks do) answers a certificate it does
      // not trust with an alert (unknown CA); Node.js's server just closes the connection.
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-strict-'));
      writeFileSync(join(dir, 'cert.pem'), goodCertificate.cert);
      writeFileSync(join(dir, 'key.pem'), goodCertificate.key);
      writeFileSync(join(dir, 'client-ca.pem'), client.ca);
      const free = createTcpServer();
      await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
      const port = (free.address() as { port: number }).port;
      await new Promise((resolve) => free.close(resolve));
      const strict = spawn(
        'openssl',
        [
          's_server',
          '-accept',
          `127.0.0.1:${port}`,
          '-cert',
          'cert.pem',
          '-key',
          'key.pem',
          '-CAfile',
          'client-ca.pem',
          '-Verify',
          '1',
          '-verify_return_error',
          '-www',
          version,
        ],
        { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          strict.stdout.on('data', (c: Buffer) => c.toString().includes('ACCEPT') && resolve());
          strict.once('exit', (code) => reject(new Error(`openssl s_server exited ${code}`)));
        });
        const stranger = clientCertificate('stranger');
        const configDir = writeConfigDir(
          applicationYaml({
            hosts: ['127.0.0.1'],
            upstream: {
              url: `https://wiki.internal:${port}`,
              tls: { ...WITH_CA, clientCertificateSecretRef: { name: 'wiki-client' } },
            },
          }) +
            CA_SECRET +
            CLIENT_SECRET.replace(
              JSON.stringify({ 'tls.crt': client.chain, 'tls.key': client.key }),
              JSON.stringify({ 'tls.crt': stranger.chain, 'tls.key': stranger.key }),
            ),
        );
        const sidecar = await startSidecarProcess(configDir, ['--upstream-address', `127.0.0.1:${port}`]);
        sidecars.push(sidecar);
        expect((await get(sidecar, '/stranger')).status).toBe(502);
        expect(await lineOf(sidecar, '/stranger')).toMatchObject({
          error: 'upstream_unavailable',
          errorCause: 'tls_client_certificate',
        });
      } finally {
        strict.kill();
      }
    },
  );

  it('with one from a Secret: presented, for requests and WebSocket upgrades; its subject and expiry in config_loaded', async () => {
    const configDir = writeConfigDir(
      applicationYaml({
        hosts: ['127.0.0.1'],
        upstream: {
          url: `https://wiki.internal:${mutual}`,
          tls: { ...WITH_CA, clientCertificateSecretRef: { name: 'wiki-client' } },
        },
      }) +
        CA_SECRET +
        CLIENT_SECRET,
    );
    const sidecar = await startSidecarProcess(configDir, ['--upstream-address', `127.0.0.1:${mutual}`]);
    sidecars.push(sidecar);
    expect(sidecar.lines.find((l) => l.type === 'config_loaded')).toMatchObject({
      upstreamTls: {
        serverName: 'wiki.internal',
        ca: 'secret',
        clientCertificate: {
          subject: 'CN=gatehouse-wiki',
          notAfter: new Date(new X509Certificate(client.cert).validToDate).toISOString(),
        },
      },
    });
    expect(JSON.stringify(sidecar.lines)).not.toContain('PRIVATE KEY');
    expect(await get(sidecar, '/mine')).toEqual({ status: 200, body: 'client gatehouse-wiki' });
    // When it expires, for the alert a week ahead.
    const metrics = await (await request(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).body.text();
    const notAfter = Math.floor(new X509Certificate(client.cert).validToDate.getTime() / 1000);
    expect(metrics).toContain(
      `gatehouse_upstream_client_certificate_expiry_timestamp_seconds{server_name="wiki.internal"} ${notAfter}`,
    );
    const tunnel = await openRaw(sidecar.port);
    tunnel.socket.write(upgradeRequest('/ws'));
    await eventually(
      'the 101 and who the application saw',
      () => tunnel.received().includes('client gatehouse-wiki|'),
      5_000,
    );
    tunnel.socket.write('ping');
    await eventually('the echo', () => tunnel.received().endsWith('ping'), 5_000);
    tunnel.socket.destroy();
  });
});

describe('an upload to an https application', () => {
  it('a client that resets mid-body: the application request is aborted, one client_abort line', async () => {
    let ended = 0;
    let aborted = 0;
    let received = 0;
    const app = createHttpsServer({ cert: goodCertificate.cert, key: goodCertificate.key }, (req, res) => {
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      req.on('end', () => {
        ended++;
        res.end('took it');
      });
      req.on('close', () => {
        if (!req.complete) aborted++;
      });
    });
    servers.push(app);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { sidecar } = await sidecarFor((app.address() as { port: number }).port, { tls: WITH_CA });
    const client = await openRaw(sidecar.port);
    client.socket.write(
      'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(30_000),
    );
    await eventually('the body under way at the application', () => received > 0, 5_000);
    client.socket.resetAndDestroy();
    expect(await lineOf(sidecar, '/upload')).toMatchObject({ outcome: 'client_abort' });
    await eventually('the application request aborted', () => aborted === 1, 5_000);
    expect(ended).toBe(0);
    expect(sidecar.lines.filter((l) => l.type === 'request' && l.uri === '/upload')).toHaveLength(1);
  });
});

describe('a TLS handshake that never comes', () => {
  it('is bounded by the connect timeout (504 connect_timeout); a client that resets while it waits leaves one client_abort line', async () => {
    const { sidecar } = await sidecarFor(silent, { tls: WITH_CA, connect: '600ms' });
    const started = performance.now();
    expect((await get(sidecar, '/mute')).status).toBe(504);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await lineOf(sidecar, '/mute')).toMatchObject({ errorCause: 'connect_timeout' });
    // RST while the handshake is awaited.
    const client = await openRaw(sidecar.port);
    client.socket.write('GET /left HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await eventually('the handshake under way', () => held.length >= 2, 5_000);
    client.socket.resetAndDestroy();
    const left = await lineOf(sidecar, '/left');
    expect(left).toMatchObject({ outcome: 'client_abort' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(sidecar.lines.filter((l) => l.type === 'request' && l.uri === '/left')).toHaveLength(1);
  });

  it('a request queued behind the only connection, whose handshake never comes: a reset drops it before dispatch, one line', async () => {
    const { sidecar } = await sidecarFor(silent, { tls: WITH_CA, connect: '2s', maxConnections: 1 });
    const first = await openRaw(sidecar.port);
    first.socket.write('GET /holds HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const before = held.length;
    await eventually('the handshake under way', () => held.length > before, 5_000);
    const queued = await openRaw(sidecar.port);
    queued.socket.write('GET /queued HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    queued.socket.resetAndDestroy();
    expect(await lineOf(sidecar, '/queued')).toMatchObject({ outcome: 'client_abort' });
    // The first still gets its 504; the queued one never opened a connection of its own.
    await first.waitFor(/HTTP\/1\.1 504 /, 5_000);
    first.socket.destroy();
    expect(held.length).toBe(before + 1);
    expect(sidecar.lines.filter((l) => l.type === 'request' && l.uri === '/queued')).toHaveLength(1);
  });

  it('a client that half-closes (FIN) after its request still gets its answer when the timeout ends the wait', async () => {
    const { sidecar } = await sidecarFor(silent, { tls: WITH_CA, connect: '600ms' });
    const client = await openRaw(sidecar.port);
    client.socket.end('GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/^HTTP\/1\.1 504 /, 5_000);
    expect(await lineOf(sidecar, '/half')).toMatchObject({ status: 504, errorCause: 'connect_timeout' });
  });

  it('a shutdown does not wait for a handshake that never comes: one line, exit within the grace', async () => {
    const port = silent;
    const configDir = writeConfigDir(
      applicationYaml({
        hosts: ['127.0.0.1'],
        upstream: { url: `https://wiki.internal:${port}`, timeouts: { connect: '30s' }, tls: WITH_CA },
      }) + CA_SECRET,
    );
    const sidecar = await startSidecarProcess(configDir, [
      '--upstream-address',
      `127.0.0.1:${port}`,
      '--shutdown-grace',
      '1s',
    ]);
    const client = await openRaw(sidecar.port);
    client.socket.write('GET /at-stop HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const before = held.length;
    await eventually('the handshake under way', () => held.length > before, 5_000);
    const started = performance.now();
    expect(await sidecar.stop()).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(sidecar.lines.filter((l) => l.type === 'request' && l.uri === '/at-stop')).toHaveLength(1);
    client.socket.destroy();
  });
});
