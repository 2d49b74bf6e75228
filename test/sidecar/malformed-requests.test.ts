import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { builtSidecarForFile } from '../helpers/built-sidecar.ts';
import { openRaw } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

// A request the parser refused was one line with `error: bad_request` whatever it was: a
// request smuggling attempt (two lengths, a bare line ending) read the same as a scanner's junk,
// and an ingress speaking HTTPS to the sidecar's plain port (the most common mistake of a first
// install) the same as both. The built sidecar, raw sockets: each line says what was refused
// (`errorCause`), and no refused head reaches the application.

const built = builtSidecarForFile();

const head = 'Host: 127.0.0.1\r\n';

/** Sends the bytes on a new connection and returns the line of the request they made. */
async function lineFor(payload: string, marker: string): Promise<JsonLine> {
  const before = built.sidecar.lines.length;
  const client = await openRaw(built.sidecar.port);
  client.socket.write(payload, 'latin1');
  await client.waitFor(/^HTTP\/1\.1 400 /);
  client.socket.destroy();
  return built.sidecar.waitForLine(
    (l, i = built.sidecar.lines.indexOf(l)) =>
      i >= before && l.type === 'request' && String(l.uri).includes(marker),
  );
}

describe('what the parser refused, in the line', () => {
  it.each([
    [
      'Content-Length with Transfer-Encoding',
      'conflicting_length',
      `POST /clte HTTP/1.1\r\n${head}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      '/clte',
    ],
    [
      'two Content-Lengths',
      'conflicting_length',
      `POST /twocl HTTP/1.1\r\n${head}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcd`,
      '/twocl',
    ],
    ['a bare LF', 'invalid_line_ending', `GET /lf HTTP/1.1\r\n${head}X: b\n\r\n`, '/lf'],
    ['a folded header', 'invalid_header', `GET /fold HTTP/1.1\r\n${head}X: a\r\n b\r\n\r\n`, '/fold'],
    [
      'Transfer-Encoding gzip alone',
      'invalid_transfer_encoding',
      `POST /gzip HTTP/1.1\r\n${head}Transfer-Encoding: gzip\r\n\r\nab`,
      '/gzip',
    ],
    [
      'a method of other characters',
      'invalid_request_line',
      `G@T /method HTTP/1.1\r\n${head}\r\n`,
      '/method',
    ],
  ])('%s: bad_request, errorCause %s', async (_, cause, payload, marker) => {
    expect(await lineFor(payload, marker)).toMatchObject({
      status: 400,
      error: 'bad_request',
      errorCause: cause,
    });
  });

  it('a malformed chunk in a body being read: its request line says invalid_chunk', async () => {
    const client = await openRaw(built.sidecar.port);
    // The head is sound, so the request goes on to the application (which reads the whole body
    // before it answers) while the body streams; then a chunk size of letters.
    client.socket.write(
      `POST /upload-chunked HTTP/1.1\r\n${head}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    );
    await new Promise((r) => setTimeout(r, 100));
    client.socket.write('zz\r\n');
    await client.closed;
    expect(await built.sidecar.waitForLine((l) => l.uri === '/upload-chunked')).toMatchObject({
      status: 400,
      error: 'bad_request',
      errorCause: 'invalid_chunk',
    });
  });

  it('a TLS client at the plain port (an ingress set to speak HTTPS to the pod): tls_to_plain_port', async () => {
    const before = built.sidecar.lines.length;
    const tls = tlsConnect({
      port: built.sidecar.port,
      host: '127.0.0.1',
      servername: 'app.example.com',
      rejectUnauthorized: false,
    });
    const failed = await new Promise<Error>((resolve) => tls.once('error', resolve));
    expect(failed.message).toMatch(
      /wrong version number|packet length too long|ECONNRESET|socket disconnected/i,
    );
    tls.destroy();
    const line = await built.sidecar.waitForLine(
      (l) => built.sidecar.lines.indexOf(l) >= before && l.type === 'request' && l.error === 'bad_request',
    );
    expect(line).toMatchObject({ status: 400, errorCause: 'tls_to_plain_port' });
  });

  it('an HTTP/2 client at this HTTP/1.1 port (a mesh or load balancer set to HTTP/2 or gRPC): h2_to_http1_port', async () => {
    const before = built.sidecar.lines.length;
    // The client connection preface, then an empty SETTINGS frame.
    const preface = Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
    ]);
    const answer = await rawRequest(built.sidecar.port, preface);
    expect(statusOf(answer)).toBe(400);
    const line = await built.sidecar.waitForLine(
      (l) => built.sidecar.lines.indexOf(l) >= before && l.type === 'request' && l.error === 'bad_request',
    );
    expect(line).toMatchObject({ status: 400, errorCause: 'h2_to_http1_port' });
  });

  it('gatehouse_malformed_requests_total counts them by what was refused', async () => {
    const text = await (await fetch(`http://127.0.0.1:${built.sidecar.adminPort}/metrics`)).text();
    const count = (cause: string) =>
      Number(
        new RegExp(
          `^gatehouse_malformed_requests_total\\{app="proc-app",cause="${cause}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    expect(count('conflicting_length')).toBe(2);
    expect(count('tls_to_plain_port')).toBe(1);
    expect(count('invalid_chunk')).toBe(1);
    expect(text).not.toMatch(/^gatehouse_upstream_failures_total\{/m);
  });

  it('gatehouse audit carries errorCause with each request', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-audit-')), 'built.sidecar.log');
    writeFileSync(file, built.sidecar.lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const { code, stdout } = await runGatehouse([
      'audit',
      'requests',
      '--path',
      '/*',
      '--format',
      'jsonl',
      file,
    ]);
    expect(code).toBe(0);
    const requests = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { uri: string; error: string | null; errorCause: string | null });
    expect(requests.find((r) => r.uri === '/clte')).toMatchObject({
      error: 'bad_request',
      errorCause: 'conflicting_length',
    });
    expect(requests.find((r) => r.uri === '/upload-chunked')).toMatchObject({ errorCause: 'invalid_chunk' });

    // The table and the HTML report say it too, in a column of their own.
    const table = await runGatehouse(['audit', 'requests', '--path', '/*', file]);
    expect(table.code).toBe(0);
    const [head, ...rows] = table.stdout.trimEnd().split('\n');
    expect(head).toMatch(/ STATUS +DECISION +ERROR +CLIENT IP$/);
    const clte = rows.find((row) => row.includes(' /clte '));
    expect(clte).toMatch(/ 400 +\S+ +bad_request \(conflicting_length\) +127\.0\.0\.1$/);
    const html = await runGatehouse(['audit', 'requests', '--path', '/*', '--format', 'html', file]);
    expect(html.code).toBe(0);
    expect(html.stdout).toContain('<th>Decision</th><th>Error</th>');
    expect(html.stdout).toContain('<td>bad_request (invalid_chunk)</td>');
  });

  it('no refused head reached the application', () => {
    expect(built.upstream.seen.map((r) => r.url)).toEqual(['/upload-chunked']);
  });
});
