import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparableHeaderName, IDENTITY_HEADERS } from '../../sidecar/src/http/identity-headers.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { SPOOFS } from '../helpers/identity-spoofs.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url }, trustedProxies: ['127.0.0.1'] }));
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
});

describe('identity headers from clients never reach the app', () => {
  it.each(SPOOFS)('%s (twice, also from a trusted proxy)', async (header) => {
    const before = upstream.seen.length;
    const request = `GET /x HTTP/1.1\r\nHost: localhost\r\n${header}\r\n${header}\r\nX-Kept: yes\r\nConnection: close\r\n\r\n`;
    expect(statusOf(await rawRequest(gate.port, request))).toBe(200);
    const [seen] = upstream.seen.slice(before);
    const names = (seen?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map(comparableHeaderName);
    const spoofed = comparableHeaderName(header.split(':')[0] ?? '');
    expect(names).not.toContain(spoofed);
    expect(names).toContain('x-kept');
  });

  it('removes a header the client names in Connection, and keeps look-alike names', async () => {
    const before = upstream.seen.length;
    const request =
      'GET /x HTTP/1.1\r\nHost: localhost\r\nX-Identity-Custom: mallory\r\nX-Forwarded-Emailer: kept\r\nX-Users: kept\r\nConnection: X-Identity-Custom, close\r\n\r\n';
    expect(statusOf(await rawRequest(gate.port, request))).toBe(200);
    const headers = upstream.seen[before]?.headers ?? {};
    expect(headers['x-identity-custom']).toBeUndefined();
    expect(headers['x-forwarded-emailer']).toBe('kept');
    expect(headers['x-users']).toBe('kept');
  });

  it('lists every built-in name in comparable form', () => {
    for (const name of IDENTITY_HEADERS) expect(comparableHeaderName(name)).toBe(name);
  });
});
