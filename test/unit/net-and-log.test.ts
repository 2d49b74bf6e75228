import { describe, expect, it } from 'vitest';
import { capField, redactQuery, TRUNCATION_MARK, toJsonLine } from '../../lib/log/sanitize.ts';
import { ndjsonLines } from '../../lib/ndjson-lines.ts';
import { clientNetwork } from '../../lib/net/address-bits.ts';
import { createAddressSet, parseCidr } from '../../lib/net/cidr.ts';
import { resolveClientIp } from '../../lib/net/client-ip.ts';
import { compileHostMatcher, normaliseHost } from '../../lib/net/host.ts';

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', true],
    ['10.1.2.3', true],
    ['2001:db8::/32', true],
    ['::1', true],
    ['10.0.0.0/33', false],
    ['2001:db8::/129', false],
    ['10.0.0/8', false],
    ['10.0.0.0/', false],
    ['10.0.0.0/8/8', false],
    ['host.example', false],
  ])('%s valid=%s', (text, valid) => expect(parseCidr(text) !== undefined).toBe(valid));
});

describe('resolveClientIp', () => {
  const trusted = createAddressSet(['10.0.0.0/8', '127.0.0.1']);
  it.each([
    ['untrusted peer ignores XFF', '203.0.113.9', false, ['1.2.3.4'], '203.0.113.9'],
    ['trusted peer, one hop', '10.0.0.5', true, ['1.2.3.4'], '1.2.3.4'],
    ['walks right to left past trusted hops', '10.0.0.5', true, ['6.6.6.6, 1.2.3.4, 10.0.0.7'], '1.2.3.4'],
    ['spoofed left entries never win', '10.0.0.5', true, ['9.9.9.9', '1.2.3.4'], '1.2.3.4'],
    ['all trusted: leftmost', '10.0.0.5', true, ['10.0.0.1, 10.0.0.2'], '10.0.0.1'],
    ['garbage stops the walk', '10.0.0.5', true, ['1.2.3.4, junk'], '10.0.0.5'],
    ['v4-mapped peer is normalised', '::ffff:203.0.113.9', false, [], '203.0.113.9'],
    ['trusted peer without XFF', '127.0.0.1', true, [], '127.0.0.1'],
    // Azure Application Gateway writes each hop as address:port.
    ['a hop with a port', '10.0.0.5', true, ['1.2.3.4:51234'], '1.2.3.4'],
    ['ports on every hop', '10.0.0.5', true, ['6.6.6.6:1, 1.2.3.4:2, 10.0.0.7:3'], '1.2.3.4'],
    ['a bracketed IPv6 hop with a port', '10.0.0.5', true, ['[2001:db8::7]:443'], '2001:db8::7'],
    ['a bracketed IPv6 hop', '10.0.0.5', true, ['[2001:db8::7]'], '2001:db8::7'],
    ['a bare IPv6 hop', '10.0.0.5', true, ['2001:db8::7'], '2001:db8::7'],
    ['a port that is not one stops the walk', '10.0.0.5', true, ['1.2.3.4:http'], '10.0.0.5'],
    ['a bracket left open stops the walk', '10.0.0.5', true, ['[2001:db8::7'], '10.0.0.5'],
    ['something after the bracket stops the walk', '10.0.0.5', true, ['[2001:db8::7]x'], '10.0.0.5'],
  ])('%s', (_name, peer, peerTrusted, xff, expected) => {
    expect(resolveClientIp(peer as string, peerTrusted as boolean, xff as string[], trusted)).toBe(expected);
  });
  it('matches v4-mapped addresses against IPv4 ranges', () => {
    expect(trusted.has('::ffff:10.2.3.4')).toBe(true);
    expect(trusted.has('::ffff:11.2.3.4')).toBe(false);
  });
});

describe('clientNetwork: what a client counts as for a fair share', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:0:0:0:9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['2001:db8:1:2:3:4:192.0.2.1', '2001:db8:1:2::/64'],
    ['', ''],
    ['not:an:address', 'not:an:address'],
  ])('%s counts as %s', (ip, network) => {
    expect(clientNetwork(ip)).toBe(network);
  });
});

describe('host matching', () => {
  const match = compileHostMatcher(['app.example.com', '*.apps.example.com', 'admin.example.com:8443']);
  it.each([
    ['app.example.com', true],
    ['app.example.com:4180', true],
    ['x.apps.example.com', true],
    ['x.y.apps.example.com', false],
    ['apps.example.com', false],
    ['admin.example.com:8443', true],
    ['admin.example.com', false],
    ['evil.com', false],
  ])('%s → %s', (host, expected) => expect(match(host)).toBe(expected));
  it.each([
    ['App.Example.COM', 'app.example.com'],
    ['[::1]:4180', '[::1]:4180'],
    ['a b', undefined],
    ['a.test:99999999', undefined],
    ['a.test:65536', undefined],
    ['a.test:99999', undefined],
    ['a.test:65535', 'a.test:65535'],
    ['[::1]:70000', undefined],
    ['[::1]', '[::1]'],
    ['evil.com@good.com', undefined],
    ['', undefined],
  ])('normaliseHost(%j) = %j', (input, expected) => expect(normaliseHost(input)).toBe(expected));
});

describe('log sanitising', () => {
  it('escapes every control character and line separator', () => {
    const line = toJsonLine({ v: 'a\nb\u0000c\u007fd\u009be\u2028f\u001b[31m' });
    const raw = [...line].filter((c) => {
      const code = c.charCodeAt(0);
      return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
    });
    expect(raw).toEqual([]);
    expect(JSON.parse(line).v).toBe('a\nb\u0000c\u007fd\u009be\u2028f\u001b[31m');
  });
  it('caps long fields with a visible mark', () => {
    expect(capField('x'.repeat(10), 4)).toBe(`xxxx${TRUNCATION_MARK}`);
    expect(capField('short', 10)).toBe('short');
  });
  it.each([
    ['a=1&access_token=s3cret&b=2', 'a=1&access_token=[REDACTED]&b=2'],
    ['Access%5Ftoken=s3cret', 'Access%5Ftoken=[REDACTED]'],
    ['CODE=abc&state=xyz', 'CODE=[REDACTED]&state=xyz'],
    ['token', 'token'],
    ['q=%zz&password=p', 'q=%zz&password=[REDACTED]'],
  ])('redactQuery(%j)', (query, expected) => {
    expect(redactQuery(query, new Set(['access_token', 'code', 'token', 'password']))).toBe(expected);
  });
});

describe('ndjsonLines', () => {
  const text = '{"a":"café ✓ 🚀"}\n\n  \n{"b":2}\n{"cut":';
  const bytes = Buffer.from(text);
  /** Splits the bytes at the given offsets. */
  const chunked = (cuts: number[]): Buffer[] => {
    const out: Buffer[] = [];
    let from = 0;
    for (const at of [...cuts, bytes.length]) {
      out.push(bytes.subarray(from, at));
      from = at;
    }
    return out;
  };
  async function collect(chunks: Iterable<Buffer | string>, maxLineBytes = 1024): Promise<string[]> {
    const lines: string[] = [];
    async function* source() {
      yield* chunks;
    }
    for await (const line of ndjsonLines(source(), { maxLineBytes })) lines.push(line);
    return lines;
  }
  const emoji = bytes.indexOf(Buffer.from('🚀'));
  it.each([
    ['one chunk', chunked([])],
    ['a byte at a time', [...bytes].map((b) => Buffer.from([b]))],
    ['cut inside a 4-byte character', chunked([emoji + 2])],
    ['cut inside a 2-byte character and at a newline', chunked([bytes.indexOf(Buffer.from('é')) + 1, 20])],
  ])('%s: whole characters, blank lines skipped, the cut-off last line dropped', async (_name, chunks) => {
    expect(await collect(chunks)).toEqual(['{"a":"café ✓ 🚀"}', '{"b":2}']);
  });

  it('takes string chunks too', async () => {
    expect(await collect(['{"x":', '1}\n'])).toEqual(['{"x":1}']);
  });

  it.each([
    ['a terminated line', ['x'.repeat(20), '\n']],
    ['a line that never ends', ['x'.repeat(11), 'x'.repeat(11)]],
  ])('refuses %s longer than the limit', async (_name, chunks) => {
    await expect(collect(chunks, 16)).rejects.toThrow('a line exceeds 16 bytes');
  });

  it('reads a long line in small chunks in time linear in its length (each byte copied once)', async () => {
    // 16 MiB in 4 KiB chunks: joining the line so far at every chunk copied 32 GiB.
    const piece = Buffer.alloc(4096, 0x61);
    const chunks = Array.from({ length: 4096 }, () => piece);
    const started = performance.now();
    const lines = await collect([...chunks, Buffer.from('\n')], 32 * 1024 * 1024);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(lines.map((line) => line.length)).toEqual([16 * 1024 * 1024]);
  });
});
