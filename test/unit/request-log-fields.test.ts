import { describe, expect, it } from 'vitest';
import { isoTime } from '../../lib/iso-time.ts';
import { cloudflareRequestRecord, nativeRequestRecord } from '../../sidecar/src/log/request-log.ts';
import type { RequestScope } from '../../sidecar/src/request-scope.ts';
import { seededRandom as random } from '../helpers/seeded-random.ts';

const NAMES = [
  'User-Agent',
  'user-agent',
  'USER-AGENT',
  'uSeR-aGeNt',
  'Accept',
  'X-Team',
  'x-team',
  'Referer',
  'Host',
];

/** Header values as Node.js gives them, one character per byte. */
const latin1 = (bytes: Buffer) => bytes.toString('latin1');
const VALUES = [
  'v1',
  'curl/8.5.0',
  latin1(Buffer.from('Café ☕ 開発', 'utf8')), // UTF-8 bytes
  latin1(Buffer.from([0x43, 0x61, 0x66, 0xe9])), // `Café` in Latin-1: not UTF-8
  latin1(Buffer.from([0xe2, 0x82])), // a UTF-8 sequence cut short
  'tab\there',
];

/** What a client meant by header bytes: their UTF-8 reading when it round-trips, else Latin-1. */
function meant(value: string): string {
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : value;
}

/** The fields a request line takes from a scope, from a made-up request. */
function scopeOf(next: () => number, logged: Set<string>, startedAt: number, httpVersion: string) {
  const rawHeaders: string[] = [];
  const n = Math.floor(next() * 8);
  for (let i = 0; i < n; i++)
    rawHeaders.push(
      NAMES[Math.floor(next() * NAMES.length)] as string,
      VALUES[Math.floor(next() * VALUES.length)] as string,
    );
  return {
    req: { rawHeaders, method: 'GET', url: '/x', httpVersion },
    state: {
      loggedRequestHeaders: logged,
      redactedQueryParameters: new Set<string>(),
      appLabel: 'shop',
      config: { generation: 'g1', logging: { profile: 'native' } },
    },
    path: '/x',
    query: '',
    host: 'shop.example.com',
    requestId: 'r',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    seq: 1,
    status: 200,
    outcome: 'served',
    errorCode: null,
    errorCause: null,
    bytesIn: 1,
    bytesOut: 2,
    startedAt,
    upstreamMs: null,
    clientIp: '192.0.2.1',
    peerIp: '192.0.2.1',
    identity: null,
    sessionId: null,
    endedSession: null,
    authMethod: null,
    decision: null,
    auditDecision: null,
    kind: 'http',
  } as unknown as RequestScope;
}

/** What the fields must be, worked out the plain way. */
function expected(scope: RequestScope, endedAt: number) {
  let userAgent: string | null = null;
  const logged: Record<string, string> = {};
  const raw = scope.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = meant(raw[i + 1] as string);
    if (name === 'user-agent' && userAgent === null) userAgent = value;
    if (scope.state.loggedRequestHeaders.has(name))
      logged[name] = logged[name] === undefined ? value : `${logged[name]}, ${value}`;
  }
  return {
    userAgent,
    requestHeaders: Object.keys(logged).length > 0 ? logged : null,
    start: new Date(scope.startedAt).toISOString(),
    end: new Date(endedAt).toISOString(),
    protocol: `HTTP/${scope.req.httpVersion}`,
  };
}

describe('request line fields', () => {
  it('user agent, logged headers, times and protocol match the plain computation on made-up requests', () => {
    const next = random(2026);
    let clock = Date.parse('2026-12-01T10:00:00.000Z');
    for (let i = 0; i < 5000; i++) {
      // Times that repeat, alternate and move on, as requests at saturation do.
      clock += Math.floor(next() * 3);
      const startedAt = clock - Math.floor(next() * 4);
      const endedAt = next() < 0.1 ? clock + 1000 : clock;
      const logged = next() < 0.5 ? new Set<string>() : new Set(['x-team', 'referer']);
      const version = next() < 0.8 ? '1.1' : next() < 0.5 ? '1.0' : '2.0';
      const scope = scopeOf(next, logged, startedAt, version);
      const want = expected(scope, endedAt);
      const native = nativeRequestRecord(scope, { endedAt, durationMs: 1 });
      expect({
        userAgent: native.userAgent,
        requestHeaders: native.requestHeaders,
        start: native.start,
        end: native.end,
        protocol: native.protocol,
      }).toEqual(want);
      expect(native.time).toBe(want.end);
      const cloudflare = cloudflareRequestRecord(scope, { endedAt, durationMs: 1 });
      expect(cloudflare.ClientRequestUserAgent).toBe(want.userAgent ?? '');
      expect(cloudflare.EdgeStartTimestamp).toBe(want.start);
      expect(cloudflare.EdgeEndTimestamp).toBe(want.end);
      expect(cloudflare.ClientRequestProtocol).toBe(want.protocol);
    }
  });
});

describe('isoTime', () => {
  it('writes what Date#toISOString writes', () => {
    const next = random(7);
    const times = [
      0, 1, 999, 1000, 86_399_999, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, 1.5,
    ];
    let t = Date.parse('2026-12-31T23:59:59.990Z');
    for (let i = 0; i < 3000; i++) {
      t += Math.floor(next() * 7); // across seconds, minutes, the year
      times.push(t, t - Math.floor(next() * 2000));
    }
    for (let i = 0; i < 2000; i++) times.push(Math.floor(next() * 253_402_300_800_000));
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
