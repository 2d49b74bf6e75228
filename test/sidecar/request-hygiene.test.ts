import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }), {
    headersTimeoutMs: 1000,
    maxHeaderBytes: 8192,
  });
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
});

const req = (target: string, headers = 'Host: localhost\r\n', method = 'GET') =>
  `${method} ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;

describe('malformed requests never reach the upstream', () => {
  const cases: [string, string, number, string | null][] = [
    ['duplicate Host', req('/', 'Host: localhost\r\nHost: evil.test\r\n'), 400, 'duplicate_host'],
    ['duplicate Host, other case', req('/', 'Host: localhost\r\nhOsT: localhost\r\n'), 400, 'duplicate_host'],
    ['missing Host', req('/', ''), 400, 'bad_host'],
    ['invalid Host', req('/', 'Host: a b\r\n'), 400, null],
    ['Host with userinfo', req('/', 'Host: evil.test@localhost\r\n'), 400, 'bad_host'],
    ['absolute-form target', req('http://localhost/admin'), 400, 'bad_request_target'],
    ['asterisk target', req('*', 'Host: localhost\r\n', 'OPTIONS'), 400, 'bad_request_target'],
    ['invalid percent-encoding', req('/a%zz'), 400, 'bad_percent_encoding'],
    ['truncated percent-encoding', req('/a%4'), 400, 'bad_percent_encoding'],
    ['encoded slash', req('/public/..%2fadmin'), 400, 'ambiguous_path'],
    ['encoded slash, upper case', req('/%2Fadmin'), 400, 'ambiguous_path'],
    ['encoded backslash', req('/a%5cb'), 400, 'ambiguous_path'],
    ['raw backslash', req('/a\\b'), 400, 'ambiguous_path'],
    ['encoded NUL', req('/admin%00'), 400, 'ambiguous_path'],
    ['dot segments above root', req('/../etc/passwd'), 400, 'path_escapes_root'],
    ['unknown host', req('/', 'Host: other.test\r\n'), 421, 'unknown_host'],
    [
      'oversized headers',
      req('/', `Host: localhost\r\nX-Big: ${'a'.repeat(9000)}\r\n`),
      431,
      'headers_too_large',
    ],
    [
      'request smuggling: CL and TE',
      'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'bad_request',
    ],
    // Node answered any expectation but 100-continue itself (417), with no request id and no line.
    ['unsupported expectation', req('/', 'Host: localhost\r\nExpect: 200-ok\r\n'), 417, 'expectation_failed'],
    ['invalid header name', 'GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n', 400, 'bad_request'],
    ['Host with a port past 65535', req('/', 'Host: localhost:99999\r\n'), 400, 'bad_host'],
    // An application that echoes TRACE (Apache httpd does by default) would hand the identity
    // headers and the signed identity JWT back to the caller.
    ['TRACE', req('/', 'Host: localhost\r\n', 'TRACE'), 405, 'trace_not_supported'],
    ['TRACE, a query', req('/public/x?y=1', 'Host: localhost\r\n', 'TRACE'), 405, 'trace_not_supported'],
    [
      'TRACE asking for a WebSocket: no tunnel',
      'TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      405,
      'trace_not_supported',
    ],
    // IIS's TRACK is no method Node.js's parser knows.
    ['TRACK', req('/', 'Host: localhost\r\n', 'TRACK'), 400, 'bad_request'],
    // The parser takes off the chunking only: the application would read gzip bytes as the body.
    [
      'a transfer coding besides chunked',
      'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      501,
      'transfer_coding_not_supported',
    ],
    [
      'a transfer coding in a header of its own',
      'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      501,
      'transfer_coding_not_supported',
    ],
  ];

  it.each(cases.map(([name, ...rest]) => [`${name} → ${rest[1]}`, ...rest] as const))(
    '%s',
    async (_name, payload, status, code) => {
      const before = upstream.seen.length;
      const linesBefore = gate.records().length;
      const response = await rawRequest(gate.port, payload);
      expect(statusOf(response)).toBe(status);
      expect(response).toMatch(/x-request-id: [0-9a-f-]{36}/i);
      expect(upstream.seen.length).toBe(before);
      const lines = await gate.waitForRecords(linesBefore + 1);
      const line = lines[lines.length - 1];
      expect(line?.status).toBe(status);
      if (code) expect(line?.error).toBe(code);
    },
  );

  it('times out a client that sends its headers too slowly (408), and logs it', async () => {
    const before = upstream.seen.length;
    const linesBefore = gate.records().length;
    const socket = connect(gate.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-A: b\r\n'), 200);
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(trickle);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(statusOf(Buffer.concat(chunks).toString())).toBe(408);
    expect(upstream.seen.length).toBe(before);
    const lines = await gate.waitForRecords(linesBefore + 1);
    expect(lines[lines.length - 1]).toMatchObject({ status: 408, outcome: 'client_timeout' });
  });

  it('a TRACE pipelined between two requests: 405 in its turn, the others served, none of it reaching the application', async () => {
    const before = upstream.seen.length;
    const trace = (path: string) => `TRACE ${path} HTTP/1.1\r\nHost: localhost\r\nMax-Forwards: 0\r\n\r\n`;
    const response = await rawRequest(
      gate.port,
      `GET /one HTTP/1.1\r\nHost: localhost\r\n\r\n${trace('/two')}${req('/three')}`,
    );
    // (A JSON body ends without a line break: the next status line follows it on the same line.)
    expect([...response.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 405, 200]);
    expect(response).toContain('ok GET /one');
    expect(response).toContain('"error":"trace_not_supported"');
    expect(response).toContain('ok GET /three');
    expect(upstream.seen.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /one',
      'GET /three',
    ]);
  });

  it('still serves a well-formed request afterwards', async () => {
    const response = await rawRequest(gate.port, req('/fine'));
    expect(statusOf(response)).toBe(200);
  });
});
