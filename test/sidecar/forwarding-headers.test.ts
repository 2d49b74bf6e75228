import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardingRule } from '../../sidecar/src/http/forwarding-header-rules.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** Finding 7 of the hostile-client review: headers that rewrite the request or describe the client. */
const REWRITES = [
  'X-Original-URL: /admin',
  'X-Rewrite-URL: /admin',
  'X-Original-URI: /admin',
  'X-Forwarded-Uri: /admin',
  'X-Forwarded-Path: /admin',
  'X-Forwarded-Method: DELETE',
  'X-Envoy-Original-Path: /admin',
  'X-HTTP-Method-Override: DELETE',
  'X-Method-Override: DELETE',
];
const CLIENT_FACTS = [
  'X-Forwarded-Prefix: /admin',
  'X-Forwarded-Server: evil',
  'X-Forwarded-Ssl: on',
  'X-Forwarded-Scheme: https',
  'X-Forwarded-Client-Cert: Hash=abc;Subject="CN=admin"',
  'X-Forwarded-Tls-Client-Cert: MIIB',
  'X-Envoy-External-Address: 10.0.0.1',
  'X-Client-Cert: MIIB',
  'X-SSL-Client-Cert: MIIB',
];
const UNDERSCORES = ['Transfer_Encoding: chunked', 'Content_Length: 5', 'X_Custom_Thing: 1'];

function names(rawHeaders: readonly string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('rewrite, forwarding and underscore headers', () => {
  let upstream: TestUpstream;
  let untrusted: InProcessSidecar;
  let trusted: InProcessSidecar;
  beforeAll(async () => {
    upstream = await startUpstream();
    untrusted = await startSidecar(testConfig({ upstream: { url: upstream.url } }));
    trusted = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, trustedProxies: ['127.0.0.1'] }),
    );
  });
  afterAll(async () => {
    await untrusted.close();
    await trusted.close();
    await upstream.close();
  });

  async function forwarded(port: number, headers: readonly string[]): Promise<string[]> {
    const before = upstream.seen.length;
    const text = `GET /public/ HTTP/1.1\r\nHost: localhost\r\n${headers.map((h) => `${h}\r\n`).join('')}X-Kept: yes\r\nConnection: close\r\n\r\n`;
    expect(statusOf(await rawRequest(port, text))).toBe(200);
    const seen = upstream.seen[before];
    expect(seen?.url).toBe('/public/');
    return names(seen?.rawHeaders ?? []);
  }
  const nameOf = (h: string) => (h.split(':')[0] ?? '').toLowerCase();

  it('from an untrusted peer: none of them reaches the application', async () => {
    const got = await forwarded(untrusted.port, [...REWRITES, ...CLIENT_FACTS, ...UNDERSCORES]);
    for (const h of [...REWRITES, ...CLIENT_FACTS, ...UNDERSCORES]) expect(got).not.toContain(nameOf(h));
    expect(got).toContain('x-kept');
  });

  it('from a trusted proxy: client facts are kept, rewrites and underscores still dropped', async () => {
    const got = await forwarded(trusted.port, [...REWRITES, ...CLIENT_FACTS, ...UNDERSCORES]);
    for (const h of CLIENT_FACTS) expect(got).toContain(nameOf(h));
    for (const h of [...REWRITES, ...UNDERSCORES]) expect(got).not.toContain(nameOf(h));
  });

  it('behind Azure Application Gateway (each hop as address:port): the client is the address before its port', async () => {
    const before = upstream.seen.length;
    const text =
      'GET /public/agw HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.4:50000, 203.0.113.7:51234\r\nConnection: close\r\n\r\n';
    expect(statusOf(await rawRequest(trusted.port, text))).toBe(200);
    expect(upstream.seen[before]?.headers['x-real-ip']).toBe('203.0.113.7');
    // The chain reaches the application as the proxy wrote it, with this hop after it.
    expect(upstream.seen[before]?.headers['x-forwarded-for']).toBe(
      '198.51.100.4:50000, 203.0.113.7:51234, 127.0.0.1',
    );
    const line = trusted.records().find((r) => r.uri === '/public/agw');
    expect(line).toMatchObject({ clientIp: '203.0.113.7', peerIp: '127.0.0.1' });
  });

  it('inside an Istio mesh (every connection from 127.0.0.6, the gateway\u2019s X-Forwarded-For): the client as the docs configure it', async () => {
    const mesh = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, trustedProxies: ['127.0.0.6/32'] }),
    );
    try {
      const from = await openRaw(mesh.port, '127.0.0.6');
      from.socket.write(
        'GET /public/mesh HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.8\r\nConnection: close\r\n\r\n',
      );
      await from.waitFor(/^HTTP\/1\.1 200/);
      expect(mesh.records().find((r) => r.uri === '/public/mesh')).toMatchObject({
        clientIp: '203.0.113.8',
        peerIp: '127.0.0.6',
      });
      // Another address of the pod's loopback is no proxy of the mesh: its header is not believed.
      const other = await openRaw(mesh.port, '127.0.0.7');
      other.socket.write(
        'GET /public/other HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.8\r\nConnection: close\r\n\r\n',
      );
      await other.waitFor(/^HTTP\/1\.1 200/);
      expect(mesh.records().find((r) => r.uri === '/public/other')).toMatchObject({ clientIp: '127.0.0.7' });
    } finally {
      await mesh.close();
    }
  });

  it.each([
    ['x-original-url', 'always_drop'],
    ['x-http-method-override', 'always_drop'],
    ['x-forwarded-uri', 'always_drop'],
    ['x-forwarded-for', 'trusted_only'],
    ['x-forwarded-anything-new', 'trusted_only'],
    ['x-envoy-external-address', 'trusted_only'],
    ['forwarded', 'trusted_only'],
    ['x-real-ip', 'trusted_only'],
    ['x-forwarded', 'forward'],
    ['accept', 'forward'],
    ['x-originals', 'forward'],
  ] as const)('rule for %s is %s', (name, rule) => {
    expect(forwardingRule(name)).toBe(rule);
  });
});
