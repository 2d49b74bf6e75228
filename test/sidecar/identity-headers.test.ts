import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparableHeaderName, IDENTITY_HEADERS } from '../../sidecar/src/http/identity-headers.ts';
import { testConfig } from '../helpers/fixtures.ts';
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

const SPOOFS: string[] = [
  'X-Forwarded-Email: mallory@evil.test',
  'x-forwarded-email: mallory@evil.test',
  'X-FORWARDED-EMAIL: mallory@evil.test',
  'X_Forwarded_Email: mallory@evil.test',
  'x_forwarded_email: mallory@evil.test',
  'X.Forwarded.Email: mallory@evil.test',
  'X-Forwarded_Email: mallory@evil.test',
  'X-Forwarded-User: mallory',
  'X-Forwarded-Groups: admins',
  'X-Forwarded-Preferred-Username: mallory',
  'X-Auth-Request-Email: mallory@evil.test',
  'X-Auth-Request-User: mallory',
  'X-Auth-Request-Groups: admins',
  'X-Gatehouse-Email: mallory@evil.test',
  'X-Gatehouse-Assertion: eyJhbGciOiJub25lIn0.e30.',
  'x_gatehouse_user: mallory',
  'X-Gatehouse-Anything-New: x',
  'Cf-Access-Jwt-Assertion: eyJhbGciOiJub25lIn0.e30.',
  'Cf-Access-Authenticated-User-Email: mallory@evil.test',
  'X-Pomerium-Jwt-Assertion: x',
  'X-Pomerium-Claim-Email: mallory@evil.test',
  'Remote-User: mallory',
  'Remote_User: mallory',
  'X-Remote-User: mallory',
  'X-WEBAUTH-USER: admin',
  'X-User: admin',
  'X-Email: mallory@evil.test',
];

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
