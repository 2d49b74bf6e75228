import { describe, expect, it } from 'vitest';
import { type ProxyHeader, ProxyHeaderReader } from '../../lib/net/proxy-protocol.ts';
import {
  awsEndpointTlv,
  azureLinkTlv,
  gcpConnectionTlv,
  PROXY_V2_SIGNATURE,
  proxyTlv,
  proxyV2,
  tcpBlock,
  withChecksum,
} from '../helpers/proxy-headers.ts';

const SIGNATURE = PROXY_V2_SIGNATURE;
const REQUEST = 'GET / HTTP/1.1\r\nHost: app\r\n\r\n';
const v2 = proxyV2;
const INET_BLOCK = tcpBlock('203.0.113.7');
const inet6Block = tcpBlock;
/** Extensions as a balancer may send them: ALPN, authority, padding, a checksum, an AWS endpoint. */
const WITH_CRC = Buffer.concat([
  proxyTlv(0x01, Buffer.from('http/1.1')),
  proxyTlv(0x02, Buffer.from('wiki.example.com')),
  proxyTlv(0x04, Buffer.alloc(300)),
  proxyTlv(0x03, [0, 0, 0, 0]),
  awsEndpointTlv('vpce-0abc'),
]);

/** Feeds the input whole, or in chunks of `size` bytes; the first outcome and what was pushed after it. */
function read(input: Buffer | string, size = 0): { outcome: ProxyHeader | null; pushesAfter: number } {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const reader = new ProxyHeaderReader();
  if (size === 0) return { outcome: reader.push(bytes), pushesAfter: 0 };
  for (let at = 0; at < bytes.length; at += size) {
    const outcome = reader.push(bytes.subarray(at, at + size));
    if (outcome !== null) return { outcome, pushesAfter: bytes.length - Math.min(bytes.length, at + size) };
  }
  return { outcome: null, pushesAfter: 0 };
}

/** The outcome with `rest` as text, for comparison. */
function summary(outcome: ProxyHeader | null): unknown {
  if (outcome === null || outcome.kind === 'invalid') return outcome;
  return { ...outcome, rest: outcome.rest.toString('latin1') };
}

describe('the PROXY protocol header', () => {
  const cases: [string, Buffer | string, unknown][] = [
    [
      'version 1, IPv4',
      `PROXY TCP4 203.0.113.7 10.0.0.5 50000 4180\r\n${REQUEST}`,
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 1, IPv6',
      `PROXY TCP6 2001:db8::7 fd00::5 50000 4180\r\n${REQUEST}`,
      { kind: 'proxied', source: '2001:db8::7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 1, nothing after it yet',
      'PROXY TCP4 203.0.113.7 10.0.0.5 1 2\r\n',
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: '' },
    ],
    ['version 1, UNKNOWN', `PROXY UNKNOWN\r\n${REQUEST}`, { kind: 'local', rest: REQUEST }],
    [
      'version 1, UNKNOWN with addresses',
      `PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n${REQUEST}`,
      { kind: 'local', rest: REQUEST },
    ],
    [
      'version 1, no line end in 107 bytes',
      `PROXY TCP4 ${'1'.repeat(120)}`,
      { kind: 'invalid', reason: 'v1_too_long' },
    ],
    [
      'version 1, a line end past 107 bytes',
      `PROXY UNKNOWN ${'x'.repeat(100)}\r\n`,
      { kind: 'invalid', reason: 'v1_too_long' },
    ],
    [
      'version 1, unknown family',
      'PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n',
      { kind: 'invalid', reason: 'v1_malformed' },
    ],
    [
      'version 1, a field missing',
      'PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n',
      { kind: 'invalid', reason: 'v1_malformed' },
    ],
    [
      'version 1, two spaces',
      'PROXY TCP4  1.2.3.4 1.2.3.5 1 2\r\n',
      { kind: 'invalid', reason: 'v1_malformed' },
    ],
    ['version 1, IPv6 named TCP4', 'PROXY TCP4 ::1 ::2 1 2\r\n', { kind: 'invalid', reason: 'v1_address' }],
    [
      'version 1, not an address',
      'PROXY TCP4 1.2.3 1.2.3.5 1 2\r\n',
      { kind: 'invalid', reason: 'v1_address' },
    ],
    [
      'version 1, port over 65535',
      'PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n',
      { kind: 'invalid', reason: 'v1_address' },
    ],
    [
      'version 1, port with a leading zero',
      'PROXY TCP4 1.2.3.4 1.2.3.5 080 2\r\n',
      { kind: 'invalid', reason: 'v1_address' },
    ],
    ['an HTTP request', REQUEST, { kind: 'missing', rest: REQUEST }],
    [
      'a POST (the same first letter)',
      'POST / HTTP/1.1\r\n',
      { kind: 'missing', rest: 'POST / HTTP/1.1\r\n' },
    ],
    ['PROXY as a method', 'PROXY/ HTTP/1.1\r\n', { kind: 'missing', rest: 'PROXY/ HTTP/1.1\r\n' }],
    ['a TLS handshake', Buffer.from([0x16, 0x03, 0x01, 0x00]), { kind: 'missing', rest: '\x16\x03\x01\x00' }],
    [
      'a line that starts as the version 2 signature does',
      '\r\n\r\nGET',
      { kind: 'missing', rest: '\r\n\r\nGET' },
    ],
    [
      'version 2, PROXY, IPv4',
      Buffer.concat([v2(1, 0x11, INET_BLOCK), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 2, PROXY, IPv6',
      Buffer.concat([v2(1, 0x21, inet6Block('2001:db8:0:0:1:0:0:7')), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '2001:db8::1:0:0:7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 2, PROXY, IPv4-mapped IPv6',
      v2(1, 0x21, inet6Block('::ffff:cb00:7107')),
      { kind: 'proxied', source: '::ffff:203.0.113.7', endpoint: null, rest: '' },
    ],
    [
      'version 2, extensions after the addresses (an AWS endpoint id)',
      Buffer.concat([v2(1, 0x11, INET_BLOCK, 40), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 2, the longest header',
      Buffer.concat([v2(1, 0x11, INET_BLOCK, 65_535 - 12), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 2, an AWS VPC endpoint id',
      Buffer.concat([
        v2(1, 0x11, INET_BLOCK, awsEndpointTlv('vpce-08d2bf15fac5001c9')),
        Buffer.from(REQUEST),
      ]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: 'aws:vpce-08d2bf15fac5001c9', rest: REQUEST },
    ],
    [
      'version 2, an Azure private endpoint LinkID (little-endian)',
      Buffer.concat([v2(1, 0x21, inet6Block('2001:db8::7'), azureLinkTlv(0x12345678)), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '2001:db8::7', endpoint: 'azure:305419896', rest: REQUEST },
    ],
    [
      'version 2, a GCP Private Service Connect id (big-endian, all 64 bits)',
      Buffer.concat([v2(1, 0x11, INET_BLOCK, gcpConnectionTlv(18446744072646845442n)), Buffer.from(REQUEST)]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: 'gcp:18446744072646845442', rest: REQUEST },
    ],
    [
      'version 2, the endpoint after other extensions (ALPN, authority, padding, a CRC)',
      withChecksum(v2(1, 0x11, INET_BLOCK, WITH_CRC)),
      { kind: 'proxied', source: '203.0.113.7', endpoint: 'aws:vpce-0abc', rest: '' },
    ],
    [
      'version 2, an AWS Network Load Balancer\u2019s header as AWS publishes it (checksum, endpoint, padding)',
      Buffer.from(
        `${PROXY_V2_SIGNATURE.map((b) => b.toString(16).padStart(2, '0')).join('')}21110054ac1f0771ac1f0a1fc8f20050` +
          `030004e8d6892dea001701767063652d3038643262663135666163353030316339040024${'00'.repeat(36)}`,
        'hex',
      ),
      { kind: 'proxied', source: '172.31.7.113', endpoint: 'aws:vpce-08d2bf15fac5001c9', rest: '' },
    ],
    [
      'version 2, a checksum one off',
      withChecksum(v2(1, 0x11, INET_BLOCK, WITH_CRC), 1),
      { kind: 'invalid', reason: 'v2_checksum' },
    ],
    [
      'version 2, a checksum right, then the client changed on the way',
      (() => {
        const header = withChecksum(v2(1, 0x11, INET_BLOCK, WITH_CRC));
        header[16] = 198; // 203.0.113.7 -> 198.0.113.7
        return header;
      })(),
      { kind: 'invalid', reason: 'v2_checksum' },
    ],
    [
      'version 2, an IPv6 client and its checksum first',
      withChecksum(
        v2(
          1,
          0x21,
          inet6Block('2001:db8::7'),
          Buffer.concat([proxyTlv(0x03, [0, 0, 0, 0]), proxyTlv(0x04, Buffer.alloc(9))]),
        ),
      ),
      { kind: 'proxied', source: '2001:db8::7', endpoint: null, rest: '' },
    ],
    [
      'version 2, a checksum of 3 bytes',
      v2(1, 0x11, INET_BLOCK, proxyTlv(0x03, [1, 2, 3])),
      { kind: 'invalid', reason: 'v2_checksum' },
    ],
    [
      'version 2, a checksum cut short by the header end',
      Buffer.concat([v2(1, 0x11, INET_BLOCK, Buffer.from([0x03, 0, 4, 0, 0]))]),
      { kind: 'invalid', reason: 'v2_checksum' },
    ],
    [
      'version 2, LOCAL with a wrong checksum: the balancer\u2019s own connection, nothing read of it',
      withChecksum(v2(0, 0x11, INET_BLOCK, WITH_CRC), 1),
      { kind: 'local', rest: '' },
    ],
    [
      'version 2, the first endpoint of two',
      v2(1, 0x11, INET_BLOCK, Buffer.concat([awsEndpointTlv('vpce-first'), awsEndpointTlv('vpce-second')])),
      { kind: 'proxied', source: '203.0.113.7', endpoint: 'aws:vpce-first', rest: '' },
    ],
    [
      'version 2, malformed endpoints passed over: an AWS id with a space, another subtype, a short Azure and GCP value',
      v2(
        1,
        0x11,
        INET_BLOCK,
        Buffer.concat([
          awsEndpointTlv('vpce-0abc def'),
          awsEndpointTlv(''),
          proxyTlv(0xea, Buffer.from('\x02vpce-0abc', 'latin1')),
          proxyTlv(0xee, [0x02, 1, 0, 0, 0]),
          proxyTlv(0xee, [0x01, 1, 0, 0]),
          proxyTlv(0xe0, [1, 2, 3, 4, 5, 6, 7]),
          proxyTlv(0xea, Buffer.concat([Buffer.from([1]), Buffer.alloc(200, 0x61)])),
        ]),
      ),
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: '' },
    ],
    [
      'version 2, an endpoint cut short by the end of the header',
      Buffer.concat([
        v2(1, 0x11, INET_BLOCK, awsEndpointTlv('vpce-0abc').subarray(0, 8)),
        Buffer.from(REQUEST),
      ]),
      { kind: 'proxied', source: '203.0.113.7', endpoint: null, rest: REQUEST },
    ],
    [
      'version 2, LOCAL with an endpoint: the balancer\u2019s own connection names none',
      v2(0, 0x11, INET_BLOCK, awsEndpointTlv('vpce-0abc')),
      { kind: 'local', rest: '' },
    ],
    [
      'version 2, LOCAL',
      Buffer.concat([v2(0, 0x00, []), Buffer.from(REQUEST)]),
      { kind: 'local', rest: REQUEST },
    ],
    ['version 2, LOCAL with addresses', v2(0, 0x11, INET_BLOCK), { kind: 'local', rest: '' }],
    ['version 2, LOCAL of a UNIX socket', v2(0, 0x31, Array(216).fill(1)), { kind: 'local', rest: '' }],
    ['version 2, PROXY of an unknown family', v2(1, 0x00, [], 4), { kind: 'local', rest: '' }],
    [
      'version 2, version 1 in its version bits',
      Buffer.from([...SIGNATURE, 0x11, 0x11, 0, 12]),
      { kind: 'invalid', reason: 'v2_version' },
    ],
    [
      'version 2, command 2',
      Buffer.from([...SIGNATURE, 0x22, 0x11, 0, 12]),
      { kind: 'invalid', reason: 'v2_command' },
    ],
    [
      'version 2, family 4',
      Buffer.from([...SIGNATURE, 0x21, 0x41, 0, 12]),
      { kind: 'invalid', reason: 'v2_family' },
    ],
    [
      'version 2, transport 3',
      Buffer.from([...SIGNATURE, 0x21, 0x13, 0, 12]),
      { kind: 'invalid', reason: 'v2_family' },
    ],
    ['version 2, PROXY of a datagram', v2(1, 0x12, INET_BLOCK), { kind: 'invalid', reason: 'v2_family' }],
    [
      'version 2, PROXY of a UNIX socket',
      v2(1, 0x31, Array(216).fill(1)),
      { kind: 'invalid', reason: 'v2_family' },
    ],
    [
      'version 2, shorter than its addresses',
      v2(1, 0x11, INET_BLOCK, 0, 11),
      { kind: 'invalid', reason: 'v2_length' },
    ],
  ];

  it.each(cases)('%s: whole', (_name, input, expected) => {
    expect(summary(read(input).outcome)).toEqual(expected);
  });

  it.each(cases)('%s: a byte at a time', (_name, input, expected) => {
    const { outcome, pushesAfter } = read(input, 1);
    const want = expected as { kind: string; rest?: string };
    if (want.kind === 'invalid') {
      expect(summary(outcome)).toEqual(expected);
      return;
    }
    // The outcome comes with the byte that completes the header (or tells it is none): what
    // follows is left to whoever reads the connection next.
    const rest = (outcome as Exclude<ProxyHeader, { kind: 'invalid' }>).rest.toString('latin1');
    const input_ = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    expect(rest + input_.subarray(input_.length - pushesAfter).toString('latin1')).toBe(want.rest);
    expect({ ...(summary(outcome) as object), rest: want.rest }).toEqual(expected);
  });

  it('needs more until the header is whole, and keeps nothing of the extensions it skips', () => {
    const reader = new ProxyHeaderReader();
    const header = Buffer.concat([v2(1, 0x11, INET_BLOCK, 60_000), Buffer.from(REQUEST)]);
    const end = header.length - REQUEST.length;
    let at = 0;
    for (; at + 1000 < end; at += 1000) {
      expect(reader.push(header.subarray(at, at + 1000))).toBeNull();
      if (at > 28) expect((reader as unknown as { kept: Buffer }).kept.length).toBe(0);
    }
    expect(summary(reader.push(header.subarray(at)))).toEqual({
      kind: 'proxied',
      source: '203.0.113.7',
      endpoint: null,
      rest: REQUEST,
    });
  });
});
