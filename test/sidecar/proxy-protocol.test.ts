import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import { testConfig } from '../helpers/fixtures.ts';
import {
  eventually,
  openRaw,
  type RawClient,
  sleep,
  statusesOf,
  upgradeRequest,
  within,
} from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import {
  azureLinkTlv,
  gcpConnectionTlv,
  PROXY_V2_SIGNATURE,
  proxyTlv,
  proxyV2For,
  withChecksum,
} from '../helpers/proxy-headers.ts';
import {
  applicationYaml,
  policyYaml,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * A layer-4 load balancer that sends the PROXY protocol (an AWS Network Load Balancer in IP mode,
 * which otherwise hands every connection over from its own address) stands at 127.0.0.2; other
 * clients connect from 127.0.0.1. Every connection is a raw socket.
 */
const BALANCER = '127.0.0.2';
const SIGNATURE = PROXY_V2_SIGNATURE;
const HEADERS_TIMEOUT_MS = 600;

/** A version 2 PROXY header for a TCP client, with an extension as AWS sends (its endpoint id). */
const AWS_ENDPOINT = Buffer.concat([
  Buffer.from([0xea, 0x00, 0x17, 0x01]),
  Buffer.from('vpce-08d2bf15fac5001c9'),
]);
const v2 = (client: string): Buffer => proxyV2For(client, AWS_ENDPOINT);
const v1 = (client: string): string => `PROXY TCP4 ${client} 10.0.0.5 50000 4180\r\n`;
const get = (path: string, close = true): string =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

let upstream: TestUpstream;
let sidecar: InProcessSidecar;
const PARTNER_TOKEN = newServiceToken();
const clients: RawClient[] = [];
const tunnels = new Set<Socket>(); // the application's ends, which its server no longer tracks

async function open(from = BALANCER): Promise<RawClient> {
  const client = await openRaw(sidecar.port, from);
  clients.push(client);
  return client;
}

/** The request line of the sidecar's log for a path, once written. */
async function lineOf(path: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await eventually(`the line of ${path}`, () => {
    found = sidecar.records().find((r) => r.uri === path);
    return found !== undefined;
  });
  return found as Record<string, unknown>;
}

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.method === 'POST') {
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.on('end', () => res.end(`got ${bytes}`));
      return;
    }
    if (req.url === '/public/slow') {
      const answer = setTimeout(() => res.end('slow'), 1_500);
      res.on('close', () => clearTimeout(answer));
      return;
    }
    const endpoint = req.headers['x-gatehouse-private-endpoint'];
    res.end(`ok ${req.url} for ${req.headers['x-forwarded-for']}${endpoint ? ` via ${endpoint}` : ''}`);
  });
  upstream.server.on('upgrade', async (req, socket: Socket) => {
    tunnels.add(socket);
    socket.on('error', () => undefined);
    if (req.url === '/public/ws-slow') await sleep(800); // the handshake's answer takes a while
    if (socket.destroyed) return;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (c: Buffer) => socket.write(c)); // an echo
    socket.on('end', () => socket.end()); // as WebSocket servers do when their client leaves
    socket.on('error', () => undefined);
  });
  sidecar = await startSidecar(
    testConfig(
      {
        upstream: { url: upstream.url },
        proxyProtocol: { from: [`${BALANCER}/32`] },
        authentication: {
          serviceTokens: { tokens: [{ id: 'partner-bot', secretHash: PARTNER_TOKEN.secretHash }] },
        },
        policies: [{ name: 'not-from-the-office' }, { name: 'partners' }],
      },
      {
        'not-from-the-office': {
          decision: 'bypass',
          include: [{ everyone: true }],
          exclude: [{ ipRanges: ['198.51.100.0/24'] }, { paths: ['/partner/**'] }],
        },
        // Two consumers' endpoints of the three clouds; any other endpoint, or none, is refused.
        partners: {
          decision: 'bypass',
          include: [{ privateEndpoints: ['aws:vpce-08d2bf15fac5001c9', 'gcp:18446744072646845442'] }],
          require: [{ paths: ['/partner/**'] }],
        },
      },
    ),
    { headersTimeoutMs: HEADERS_TIMEOUT_MS, maxConnections: 64 },
  );
});

afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  for (const t of tunnels) t.destroy();
  await sidecar.close();
  await upstream.close();
});

describe('the PROXY protocol from a load balancer of spec.proxyProtocol', () => {
  it('version 1 and 2: the header names the client for the application, the policies and the log', async () => {
    const one = await open();
    one.socket.write(v1('203.0.113.7') + get('/public/v1'));
    await one.waitFor(/ok \/public\/v1 for 203\.0\.113\.7$/);
    const two = await open();
    two.socket.write(Buffer.concat([v2('203.0.113.8'), Buffer.from(get('/public/v2'))]));
    // The application is told the endpoint too.
    await two.waitFor(/ok \/public\/v2 for 203\.0\.113\.8 via aws:vpce-08d2bf15fac5001c9$/);
    expect(await lineOf('/public/v1')).toMatchObject({
      clientIp: '203.0.113.7',
      peerIp: '203.0.113.7',
      status: 200,
    });
    expect(await lineOf('/public/v2')).toMatchObject({
      clientIp: '203.0.113.8',
      peerIp: '203.0.113.8',
      privateEndpoint: 'aws:vpce-08d2bf15fac5001c9',
      status: 200,
    });
    expect(await lineOf('/public/v1')).not.toHaveProperty('privateEndpoint');
    // An ipRanges policy judges the client the header named, not the balancer.
    const office = await open();
    office.socket.write(v1('198.51.100.9') + get('/public/office'));
    await office.waitFor(/^HTTP\/1\.1 403 /);
  });

  it('the private endpoint a version 2 header names (AWS, Azure, GCP): in the line, and judged by privateEndpoints', async () => {
    const through = async (header: Buffer | string, path: string): Promise<Record<string, unknown>> => {
      const client = await open();
      client.socket.write(Buffer.concat([Buffer.from(header), Buffer.from(get(path))]));
      await client.waitFor(/^HTTP\/1\.1 \d{3} /);
      return lineOf(path);
    };
    // Consumers of two clouds' listed endpoints: admitted, and named in their lines.
    expect(await through(v2('10.0.0.7'), '/partner/aws')).toMatchObject({
      status: 200,
      clientIp: '10.0.0.7',
      privateEndpoint: 'aws:vpce-08d2bf15fac5001c9',
      decision: { action: 'bypass', policy: 'partners', reason: 'private_endpoint_listed' },
    });
    expect(
      await through(proxyV2For('10.0.0.7', gcpConnectionTlv(18446744072646845442n)), '/partner/gcp'),
    ).toMatchObject({ status: 200, privateEndpoint: 'gcp:18446744072646845442' });
    // The same client address through an endpoint nobody listed: refused, and the line says which.
    const azure = await through(proxyV2For('10.0.0.7', azureLinkTlv(7)), '/partner/azure');
    expect(azure).toMatchObject({ privateEndpoint: 'azure:7', decision: { action: 'deny' } });
    expect(azure.status).not.toBe(200);
    // No endpoint (version 1 has no extensions; a version 2 header without one): refused, no field.
    for (const [header, path] of [
      [v1('10.0.0.7'), '/partner/v1'],
      [proxyV2For('10.0.0.7'), '/partner/v2-plain'],
    ] as const) {
      const line = await through(header, path);
      expect(line.status).not.toBe(200);
      expect(line).not.toHaveProperty('privateEndpoint');
    }
    // A client's own X-Gatehouse-Private-Endpoint never reaches the application, with or without
    // an endpoint of its own.
    for (const [header, path, told] of [
      [v1('10.0.0.9'), '/public/spoof-none', ''],
      [v2('10.0.0.9'), '/public/spoof-aws', ' via aws:vpce-08d2bf15fac5001c9'],
    ] as const) {
      const spoof = await open();
      spoof.socket.write(
        Buffer.concat([
          Buffer.from(header),
          Buffer.from(
            `GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-Gatehouse-Private-Endpoint: aws:vpce-0a1\r\nx_gatehouse_private_endpoint: gcp:1\r\nConnection: close\r\n\r\n`,
          ),
        ]),
      );
      await spoof.waitFor(new RegExp(`ok ${path} for 10\\.0\\.0\\.9${told}$`));
    }
    // Auth events name the endpoint as their request line does (a wrong service token here).
    const forged = await open();
    forged.socket.write(
      Buffer.concat([
        v2('10.0.0.8'),
        Buffer.from(
          `GET /partner/token HTTP/1.1\r\nHost: localhost\r\nCf-Access-Client-Id: partner-bot\r\nCf-Access-Client-Secret: ${'x'.repeat(43)}\r\nConnection: close\r\n\r\n`,
        ),
      ]),
    );
    await forged.waitFor(/^HTTP\/1\.1 401 /);
    const failed = sidecar.events('service_token_failed').find((e) => e.clientIp === '10.0.0.8');
    expect(failed).toMatchObject({ privateEndpoint: 'aws:vpce-08d2bf15fac5001c9' });
    // A client outside the balancer cannot name an endpoint: its header is no HTTP request.
    const direct = await open('127.0.0.1');
    direct.socket.write(Buffer.concat([v2('10.0.0.7'), Buffer.from(get('/partner/direct'))]));
    await direct.waitFor(/^HTTP\/1\.1 400 /);
  });

  it('the header alone first, then requests on the same connection, kept alive and pipelined', async () => {
    const c = await open();
    c.socket.write(v2('203.0.113.9'));
    await sleep(100);
    c.socket.write(get('/public/alive-1', false) + get('/public/alive-2', false));
    await c.waitFor(/ok \/public\/alive-2 for 203\.0\.113\.9/);
    c.socket.write(get('/public/alive-3'));
    await c.waitFor(/ok \/public\/alive-3 for 203\.0\.113\.9/);
    expect(statusesOf(c.received())).toEqual([200, 200, 200]);
  });

  it('a header trickled a byte at a time within the header time, then a request and a FIN at once', async () => {
    const c = await open();
    const header = v2('203.0.113.10');
    for (const byte of header) {
      c.socket.write(Buffer.from([byte]));
      await sleep(HEADERS_TIMEOUT_MS / header.length / 2);
    }
    c.socket.end(get('/public/trickled', false)); // half-close after the request (RFC 9112 §9.6)
    await c.waitFor(/ok \/public\/trickled for 203\.0\.113\.10/);
  });

  it('a header, a request and its FIN in one segment: answered', async () => {
    const c = await open();
    c.socket.end(Buffer.concat([v2('203.0.113.11'), Buffer.from(get('/public/one-segment', false))]));
    await c.waitFor(/ok \/public\/one-segment for 203\.0\.113\.11/);
  });

  it('a 4 MiB body after the header reaches the application whole', async () => {
    const c = await open();
    const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
    c.socket.write(
      Buffer.concat([
        Buffer.from(v1('203.0.113.12')),
        Buffer.from(
          `POST /public/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        ),
      ]),
    );
    c.socket.write(body);
    await c.waitFor(new RegExp(`got ${body.length}$`), 10_000);
  });

  it('a WebSocket after the header: the tunnel carries both ways, the line names the client', async () => {
    const c = await open();
    c.socket.write(
      Buffer.concat([v2('203.0.113.13'), Buffer.from(upgradeRequest('/public/ws', 'localhost'))]),
    );
    await c.waitFor(/^HTTP\/1\.1 101 /);
    c.socket.write('ping-through-the-tunnel');
    await c.waitFor(/ping-through-the-tunnel$/);
    c.socket.destroy();
    expect(await lineOf('/public/ws')).toMatchObject({ clientIp: '203.0.113.13', status: 101 });
  });

  it('LOCAL (the balancer\u2019s own health check) and UNKNOWN: the balancer stands as the peer', async () => {
    const local = await open();
    local.socket.write(
      Buffer.concat([Buffer.from([...SIGNATURE, 0x20, 0x00, 0, 0]), Buffer.from(get('/public/local'))]),
    );
    await local.waitFor(/ok \/public\/local for 127\.0\.0\.2$/);
    const unknown = await open();
    unknown.socket.write(`PROXY UNKNOWN\r\n${get('/public/unknown')}`);
    await unknown.waitFor(/ok \/public\/unknown for 127\.0\.0\.2$/);
  });

  it('no header from the balancer: 400 proxy_header_missing and the connection closed; its readiness check answered', async () => {
    const c = await open();
    c.socket.write(get('/public/no-header', false));
    await c.waitFor(/^HTTP\/1\.1 400 /);
    await c.closed;
    expect(upstream.seen.some((s) => s.url === '/public/no-header')).toBe(false);
    expect(await lineOf('/public/no-header')).toMatchObject({
      status: 400,
      error: 'bad_request',
      errorCause: 'proxy_header_missing',
      peerIp: BALANCER,
    });
    expect(await sidecar.metrics.registry.metrics()).toMatch(
      /gatehouse_malformed_requests_total\{app="test-app",cause="proxy_header_missing"\} 1\n/,
    );
    const check = await open();
    check.socket.write('GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.0.0.5\r\nConnection: close\r\n\r\n');
    await check.waitFor(/^HTTP\/1\.1 200 [\s\S]*ok\n$/);
  });

  it('a broken header: 400 proxy_header_invalid, closed, nothing after it read as HTTP', async () => {
    const c = await open();
    c.socket.write(`PROXY TCP4 203.0.113.14 10.0.0.5 50000\r\n${get('/public/after-broken')}`);
    await c.waitFor(/^HTTP\/1\.1 400 /);
    await c.closed;
    const bad = await open();
    bad.socket.write(Buffer.from([...SIGNATURE, 0x21, 0x12, 0, 12, ...Array(12).fill(1)])); // a datagram's
    await bad.waitFor(/^HTTP\/1\.1 400 /);
    await bad.closed;
    expect(upstream.seen.some((s) => s.url === '/public/after-broken')).toBe(false);
    await eventually(
      'two lines',
      () => sidecar.records().filter((r) => r.errorCause === 'proxy_header_invalid').length === 2,
    );
    for (const line of sidecar.records().filter((r) => r.errorCause === 'proxy_header_invalid'))
      expect(line).toMatchObject({ status: 400, error: 'bad_request', peerIp: BALANCER, clientIp: BALANCER });
  });

  it('a header whose checksum (PP2_TYPE_CRC32C) does not match, whole or 4 bytes at a time: 400 proxy_header_invalid, closed, the client it names never reaches the application; sealed right, it is served as that client', async () => {
    const header = (client: string, tamper = 0): Buffer =>
      withChecksum(proxyV2For(client, Buffer.concat([proxyTlv(0x03, [0, 0, 0, 0]), AWS_ENDPOINT])), tamper);
    const before = sidecar.records().filter((r) => r.errorCause === 'proxy_header_invalid').length;
    const forged = await open();
    forged.socket.write(
      Buffer.concat([header('203.0.113.31', 1), Buffer.from(get('/public/forged-checksum'))]),
    );
    await forged.waitFor(/^HTTP\/1\.1 400 /);
    await forged.closed;
    const trickled = await open();
    const bytes = Buffer.concat([
      header('203.0.113.32', 0x100),
      Buffer.from(get('/public/trickled-checksum')),
    ]);
    for (let at = 0; at < bytes.length && !trickled.isClosed(); at += 4) {
      trickled.socket.write(bytes.subarray(at, at + 4));
      await sleep(1);
    }
    await trickled.waitFor(/^HTTP\/1\.1 400 /);
    await trickled.closed;
    expect(upstream.seen.some((s) => s.url?.endsWith('-checksum'))).toBe(false);
    await eventually(
      'their lines',
      () => sidecar.records().filter((r) => r.errorCause === 'proxy_header_invalid').length === before + 2,
    );

    const sealed = await open();
    sealed.socket.write(Buffer.concat([header('203.0.113.33'), Buffer.from(get('/public/sealed'))]));
    await sealed.waitFor(/ok \/public\/sealed for 203\.0\.113\.33 via aws:vpce-08d2bf15fac5001c9$/);
  });

  it('from any other peer a PROXY header is never believed: it is no HTTP request (400 proxy_header_unexpected, versions 1 and 2)', async () => {
    const before = sidecar.records().length;
    const c = await open('127.0.0.1');
    c.socket.write(v1('203.0.113.66') + get('/public/spoofed'));
    await c.waitFor(/^HTTP\/1\.1 400 /);
    const c2 = await open('127.0.0.1');
    c2.socket.write(Buffer.concat([v2('203.0.113.67'), Buffer.from(get('/public/spoofed-v2'))]));
    await c2.waitFor(/^HTTP\/1\.1 400 /);
    expect(upstream.seen.some((s) => s.url?.startsWith('/public/spoofed'))).toBe(false);
    await eventually(
      'their lines',
      () =>
        sidecar
          .records()
          .slice(before)
          .filter((r) => r.status === 400).length >= 2,
    );
    for (const line of sidecar
      .records()
      .slice(before)
      .filter((r) => r.status === 400))
      expect(line).toMatchObject({
        error: 'bad_request',
        errorCause: 'proxy_header_unexpected',
        peerIp: '127.0.0.1',
        clientIp: '127.0.0.1',
      });
    const plain = await open('127.0.0.1');
    plain.socket.write(get('/public/direct'));
    await plain.waitFor(/ok \/public\/direct for 127\.0\.0\.1$/);
  });
});

describe('hostile clients of the PROXY header', () => {
  it('silence: closed at the header time with no line; part of a header: 408 and its line', async () => {
    const before = sidecar.records().length;
    const silent = await open();
    const partial = await open();
    partial.socket.write(v2('203.0.113.20').subarray(0, 20));
    const started = performance.now();
    await Promise.all([silent.closed, partial.closed]);
    expect(performance.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    expect(partial.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(silent.received()).toBe('');
    await eventually('the 408 line', () => sidecar.records().length === before + 1);
    expect(sidecar.records().at(-1)).toMatchObject({
      status: 408,
      error: 'client_timeout',
      peerIp: BALANCER,
    });
  });

  it('a header and then silence (AWS sends it on the handshake\u2019s ACK, before the client\u2019s first byte): closed at the header time, no line', async () => {
    const before = sidecar.records().length;
    const c = await open();
    c.socket.write(v2('203.0.113.28'));
    await within(c.closed, HEADERS_TIMEOUT_MS * 2 + 1_000, 'the close');
    expect(c.received()).toBe('');
    await sleep(100);
    expect(sidecar.records().length).toBe(before);
  });

  it('the header\u2019s bytes belong to no request: the first request\u2019s bytesIn is its own', async () => {
    const c = await open();
    const request = get('/public/bytes-in');
    c.socket.write(Buffer.concat([v2('203.0.113.29'), Buffer.from(request)]));
    await c.waitFor(/ok \/public\/bytes-in/);
    expect(await lineOf('/public/bytes-in')).toMatchObject({ bytesIn: request.length });
  });

  it('a trickle slower than the header time is closed at the header time, not per byte', async () => {
    const before = sidecar.records().length;
    const c = await open();
    const header = v2('203.0.113.21');
    const started = performance.now();
    let sent = 0;
    while (!c.isClosed() && sent < header.length) {
      c.socket.write(header.subarray(sent, sent + 1));
      sent++;
      await sleep(100);
    }
    await c.closed;
    expect(sent).toBeLessThan(header.length);
    expect(performance.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    // Its 408 line comes a moment after the close: waited for here, so that the next test's count
    // does not take it for one of its own.
    await eventually('the trickle\u2019s 408 line', () => sidecar.records().length === before + 1);
    expect(sidecar.records().at(-1)).toMatchObject({ status: 408, error: 'client_timeout' });
  });

  it('RST and FIN mid-header end that connection alone, with no line; the sidecar serves on', async () => {
    const before = sidecar.records().length;
    const reset = await open();
    reset.socket.write(v2('203.0.113.22').subarray(0, 18));
    await sleep(50);
    reset.socket.resetAndDestroy();
    const fin = await open();
    fin.socket.end(v1('203.0.113.23').slice(0, 12));
    await fin.closed;
    await sleep(HEADERS_TIMEOUT_MS + 200);
    expect(sidecar.records().length).toBe(before);
    const after = await open();
    after.socket.write(v1('203.0.113.24') + get('/public/after-hostile'));
    await after.waitFor(/ok \/public\/after-hostile for 203\.0\.113\.24$/);
  });

  it('a PROXY header from another peer, trickled a byte at a time, reset or half-closed mid-way: refused or ended, never believed, nothing reaches the application; the sidecar serves on', async () => {
    const before = sidecar.records().length;
    const trickled = await open('127.0.0.1');
    const bytes = Buffer.concat([v2('203.0.113.51'), Buffer.from(get('/public/trickled-unexpected'))]);
    for (let at = 0; at < bytes.length && !trickled.isClosed(); at++) {
      trickled.socket.write(bytes.subarray(at, at + 1));
      await sleep(2);
    }
    // Cut where the parser stops, the chunk it had is a byte, which names no header: refused all
    // the same, by what the parser saw (a balancer sends the header whole, and it is named so).
    await trickled.waitFor(/^HTTP\/1\.1 400 /);
    await trickled.closed;
    const reset = await open('127.0.0.1');
    reset.socket.write(v1('203.0.113.52').slice(0, 9));
    await sleep(50);
    reset.socket.resetAndDestroy();
    const fin = await open('127.0.0.1');
    fin.socket.end(v2('203.0.113.53').subarray(0, 20));
    await fin.closed;
    expect(upstream.seen.some((r) => r.url === '/public/trickled-unexpected')).toBe(false);
    await eventually('the trickle\u2019s line', () =>
      sidecar
        .records()
        .slice(before)
        .some((r) => r.status === 400 && r.peerIp === '127.0.0.1'),
    );
    const after = await open('127.0.0.1');
    after.socket.write(get('/public/after-unexpected'));
    await after.waitFor(/ok \/public\/after-unexpected for 127\.0\.0\.1$/);
  });

  it('RST, FIN and silence inside the private endpoint extension end that connection alone, with no line; one resumed after a pause is served with its endpoint', async () => {
    const before = sidecar.records().length;
    const header = v2('203.0.113.27');
    const insideExtension = header.length - 5; // past the addresses, within the endpoint id
    const reset = await open();
    reset.socket.write(header.subarray(0, insideExtension));
    await sleep(50);
    reset.socket.resetAndDestroy();
    const fin = await open();
    fin.socket.end(header.subarray(0, insideExtension));
    await fin.closed;
    const silent = await open();
    silent.socket.write(header.subarray(0, insideExtension));
    const resumed = await open();
    resumed.socket.write(header.subarray(0, insideExtension));
    await sleep(HEADERS_TIMEOUT_MS / 4);
    resumed.socket.write(
      Buffer.concat([header.subarray(insideExtension), Buffer.from(get('/public/resumed'))]),
    );
    await resumed.waitFor(/ok \/public\/resumed for 203\.0\.113\.27 via aws:vpce-08d2bf15fac5001c9$/);
    expect(await lineOf('/public/resumed')).toMatchObject({ privateEndpoint: 'aws:vpce-08d2bf15fac5001c9' });
    await silent.closed;
    expect(sidecar.records().length).toBe(before + 1);
  });

  it('connections waiting for their headers do not lock others out: the cap closes them to make room', async () => {
    const waiting: RawClient[] = [];
    for (let i = 0; i < 64; i++) {
      const c = await open();
      c.socket.write(v2('203.0.113.25').subarray(0, 10));
      waiting.push(c);
    }
    const late = await open();
    late.socket.write(v1('203.0.113.26') + get('/public/made-room'));
    await late.waitFor(/ok \/public\/made-room for 203\.0\.113\.26$/);
    expect(waiting.filter((c) => c.isClosed()).length).toBeGreaterThan(0);
    for (const c of waiting) c.socket.destroy();
  });

  it('after the header, resets while the application answers, mid-body and mid-handshake: one 499 line each, with the client the header named', async () => {
    const waiting = await open();
    waiting.socket.write(Buffer.concat([v2('203.0.113.41'), Buffer.from(get('/public/slow'))]));
    const body = await open();
    body.socket.write(
      `${v1('203.0.113.42')}POST /public/half-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(30_000)}`,
    );
    const handshake = await open();
    handshake.socket.write(
      Buffer.concat([v2('203.0.113.43'), Buffer.from(upgradeRequest('/public/ws-slow', 'localhost'))]),
    );
    await sleep(300);
    for (const c of [waiting, body, handshake]) c.socket.resetAndDestroy();
    for (const [uri, client] of [
      ['/public/slow', '203.0.113.41'],
      ['/public/half-body', '203.0.113.42'],
      ['/public/ws-slow', '203.0.113.43'],
    ] as const)
      expect(await lineOf(uri)).toMatchObject({ status: 499, outcome: 'client_abort', clientIp: client });
    const after = await open();
    after.socket.write(v1('203.0.113.44') + get('/public/after-resets'));
    await after.waitFor(/ok \/public\/after-resets for 203\.0\.113\.44$/);
  });

  it('a header that declares 64 KiB of extensions costs what it sends, and the request after it is served', async () => {
    const extensions = Buffer.alloc(65_535 - 12, 0);
    const head = Buffer.from([
      ...SIGNATURE,
      0x21,
      0x11,
      0xff,
      0xff,
      203,
      0,
      113,
      27,
      10,
      0,
      0,
      5,
      0,
      80,
      0,
      80,
    ]);
    const c = await open();
    c.socket.write(Buffer.concat([head, extensions, Buffer.from(get('/public/long-header'))]));
    await c.waitFor(/ok \/public\/long-header for 203\.0\.113\.27$/);
  });
});

describe('the PROXY protocol and the sidecar\u2019s life', () => {
  it('a config that adds or removes the balancer applies to the next connection', async () => {
    const own = await startSidecar(testConfig({ upstream: { url: upstream.url } }), {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    });
    try {
      const first = await openRaw(own.port, BALANCER);
      first.socket.write(v1('203.0.113.30') + get('/public/before'));
      await first.waitFor(/^HTTP\/1\.1 400 /); // not a load balancer of this config: no HTTP request
      own.sidecar.install(
        testConfig({ upstream: { url: upstream.url }, proxyProtocol: { from: [BALANCER] } }),
      );
      const second = await openRaw(own.port, BALANCER);
      second.socket.write(v1('203.0.113.31') + get('/public/after'));
      await second.waitFor(/ok \/public\/after for 203\.0\.113\.31$/);
    } finally {
      await own.close();
    }
  });

  it('optional: from ranges that hold other clients too, a connection without a header is served as its own peer\u2019s; one with a header still names its client', async () => {
    const own = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, proxyProtocol: { from: [BALANCER], optional: true } }),
      { headersTimeoutMs: HEADERS_TIMEOUT_MS },
    );
    try {
      const direct = await openRaw(own.port, BALANCER);
      direct.socket.write(get('/public/direct-in-range'));
      await direct.waitFor(/ok \/public\/direct-in-range for 127\.0\.0\.2$/);
      const proxied = await openRaw(own.port, BALANCER);
      proxied.socket.write(v1('203.0.113.50') + get('/public/proxied-in-range'));
      await proxied.waitFor(/ok \/public\/proxied-in-range for 203\.0\.113\.50$/);
      const broken = await openRaw(own.port, BALANCER);
      broken.socket.write('PROXY TCP4 203.0.113.51\r\n');
      await broken.waitFor(/^HTTP\/1\.1 400 /); // a broken header is still refused
    } finally {
      await own.close();
    }
  });

  it('at shutdown, connections still waiting for their header are closed and the sidecar stops in time', async () => {
    const own = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, proxyProtocol: { from: [BALANCER] } }),
      { headersTimeoutMs: 60_000 },
    );
    const waiting = await openRaw(own.port, BALANCER);
    waiting.socket.write(v2('203.0.113.32').subarray(0, 14));
    await sleep(50);
    const started = performance.now();
    await own.close();
    await waiting.closed;
    expect(performance.now() - started).toBeLessThan(2_500);
  });
});

describe('the shipped sidecar behind a balancer on IPv6', () => {
  it('reads its config file\u2019s spec.proxyProtocol, matches an IPv6 balancer on the listener on every address, and judges the IPv6 client a header names', async () => {
    const dir = writeConfigDir(
      `${applicationYaml(
        {
          hosts: ['localhost'],
          upstream: { url: upstream.url },
          proxyProtocol: { from: ['::1/128'] },
          policies: [{ name: 'documentation-clients' }],
        },
        'wiki',
      )}---\n${policyYaml('documentation-clients', {
        decision: 'bypass',
        include: [{ ipRanges: ['2001:db8::/32'] }],
      })}`,
    );
    const shipped = await startSidecarProcess(dir, ['--listen', ':0', '--client-header-timeout=1s']);
    try {
      const allowed = await openRaw(shipped.port, '::1');
      allowed.socket.write(`PROXY TCP6 2001:db8::7 ::1 50000 4180\r\n${get('/public/six')}`);
      await allowed.waitFor(/ok \/public\/six for 2001:db8::7$/);
      const denied = await openRaw(shipped.port, '::1');
      denied.socket.write(Buffer.concat([v2('203.0.113.40'), Buffer.from(get('/public/four'))]));
      await denied.waitFor(/^HTTP\/1\.1 403 /);
      // Over IPv4 on the same listener the peer is not the balancer: a header is no request.
      const other = await openRaw(shipped.port, '127.0.0.1');
      other.socket.write(`PROXY TCP6 2001:db8::8 ::1 50000 4180\r\n${get('/public/spoof')}`);
      await other.waitFor(/^HTTP\/1\.1 400 /);
      const silent = await openRaw(shipped.port, '::1');
      await silent.closed; // the header time (1 s), nothing sent: closed without an answer
      expect(silent.received()).toBe('');
    } finally {
      await shipped.stop();
    }
    expect(
      shipped.lines.filter((l) => l.type === 'request').map((l) => [l.uri, l.status, l.clientIp]),
    ).toEqual([
      ['/public/six', 200, '2001:db8::7'],
      ['/public/four', 403, '203.0.113.40'],
      [expect.any(String), 400, '127.0.0.1'],
    ]);
  });
});
