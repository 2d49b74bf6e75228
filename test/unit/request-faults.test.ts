import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFaultOf } from '../../sidecar/src/http/request-faults.ts';

// What the parser refused in a malformed request, from what Node's own parser reports for it
// (code, reason and the bytes it could not parse): the same errors the sidecar's clientError
// handler gets, so a Node.js upgrade that renames them fails here.

let server: Server;
let last: Promise<{ code: string; reason: string; raw?: Buffer }>;
let report: (e: { code: string; reason: string; raw?: Buffer }) => void;

beforeAll(async () => {
  server = createServer({ requireHostHeader: false, joinDuplicateHeaders: false }, (req, res) => {
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on(
    'clientError',
    (error: NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer }, socket) => {
      report({ code: error.code ?? '', reason: error.reason ?? '', raw: error.rawPacket });
      socket.destroy();
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function parseErrorOf(payload: string | Buffer) {
  last = new Promise((r) => {
    report = r;
  });
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1', () =>
    socket.write(payload),
  );
  socket.on('error', () => undefined);
  return last.finally(() => socket.destroy());
}

const head = 'Host: a\r\n';
/** The first bytes of a TLS 1.2/1.3 ClientHello record. */
const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('requestFaultOf, from the parser', () => {
  it.each([
    ['a TLS ClientHello', CLIENT_HELLO, 'tls_to_plain_port'],
    [
      'a PROXY header, version 1, before a request',
      `PROXY TCP4 203.0.113.7 10.0.0.5 50000 4180\r\nGET / HTTP/1.1\r\n${head}\r\n`,
      'proxy_header_unexpected',
    ],
    [
      'a PROXY header, version 2, before a request',
      Buffer.concat([
        Buffer.from([
          0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0, 12,
        ]),
        Buffer.from([203, 0, 113, 7, 10, 0, 0, 5, 0xc3, 0x50, 0x10, 0x5c]),
        Buffer.from(`GET / HTTP/1.1\r\n${head}\r\n`),
      ]),
      'proxy_header_unexpected',
    ],
    ['a method named PROXY without the space', `PROXYX / HTTP/1.1\r\n${head}\r\n`, 'invalid_request_line'],
    ['a method of other characters', `G@T / HTTP/1.1\r\n${head}\r\n`, 'invalid_request_line'],
    ['a space in the target', `GET /a b HTTP/1.1\r\n${head}\r\n`, 'invalid_request_line'],
    ['a NUL in the target', `GET /\u0000 HTTP/1.1\r\n${head}\r\n`, 'invalid_request_line'],
    ['HTTP/9.1', `GET / HTTP/9.1\r\n${head}\r\n`, 'invalid_request_line'],
    ['bare LF line endings', 'GET / HTTP/1.1\nHost: a\n\n', 'invalid_line_ending'],
    ['a bare CR', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 'invalid_line_ending'],
    ['a bare LF after a header', `GET / HTTP/1.1\r\n${head}X: b\n\r\n`, 'invalid_line_ending'],
    ['a folded header line', `GET / HTTP/1.1\r\n${head}X: a\r\n b\r\n\r\n`, 'invalid_header'],
    ['a space before the colon', `GET / HTTP/1.1\r\n${head}X : b\r\n\r\n`, 'invalid_header'],
    ['a control character in a value', `GET / HTTP/1.1\r\n${head}X: a\u0001b\r\n\r\n`, 'invalid_header'],
    [
      'Content-Length with Transfer-Encoding',
      `POST / HTTP/1.1\r\n${head}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      'conflicting_length',
    ],
    [
      'two Content-Lengths',
      `POST / HTTP/1.1\r\n${head}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcd`,
      'conflicting_length',
    ],
    [
      'a Content-Length that is no number',
      `POST / HTTP/1.1\r\n${head}Content-Length: 4x\r\n\r\nabcd`,
      'invalid_length',
    ],
    [
      'Transfer-Encoding gzip alone',
      `POST / HTTP/1.1\r\n${head}Transfer-Encoding: gzip\r\n\r\nabcd`,
      'invalid_transfer_encoding',
    ],
    [
      'a chunk size of letters',
      `POST / HTTP/1.1\r\n${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n`,
      'invalid_chunk',
    ],
    [
      'chunk extensions past the limit',
      `POST / HTTP/1.1\r\n${head}Transfer-Encoding: chunked\r\n\r\n1;${'a'.repeat(20_000)}\r\nx\r\n0\r\n\r\n`,
      'invalid_chunk',
    ],
  ])('%s: %s', async (_, payload, fault) => {
    const error = await parseErrorOf(payload);
    expect(requestFaultOf(error.code, error.reason, error.raw)).toBe(fault);
  });

  it('an error it does not know is malformed', () => {
    expect(requestFaultOf('HPE_SOMETHING_NEW', 'Something new')).toBe('malformed');
    expect(requestFaultOf('', '')).toBe('malformed');
  });
});
