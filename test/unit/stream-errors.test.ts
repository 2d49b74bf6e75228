import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { streamErrorReason } from '../../sidecar/src/config/stream-errors.ts';

/** The error undici raises while reading a body the server cut off; null when it ended cleanly. */
async function cutOffError(chunked: boolean): Promise<unknown> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, chunked ? {} : { 'content-length': '100' });
    res.write('{"type":"heartbeat"}\n');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const response = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    for await (const _ of response.body);
    return null;
  } catch (error) {
    return error;
  } finally {
    server.close();
  }
}

async function refusedError(): Promise<unknown> {
  const probe = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return request(`http://127.0.0.1:${port}/`).then(
    () => null,
    (error: unknown) => error,
  );
}

describe('why the config stream is down, in words', () => {
  it('a stream the operator cut off mid-body is "closed the connection", chunked or not', async () => {
    expect(streamErrorReason(await cutOffError(true))).toMatch(/^the operator closed the connection \(/);
    expect(streamErrorReason(await cutOffError(false))).toMatch(
      /^the operator closed the connection|^Request body length/,
    );
  });

  it('nobody listening is "unreachable: connection refused"', async () => {
    expect(streamErrorReason(await refusedError())).toBe(
      'the operator is unreachable: connection refused (ECONNREFUSED)',
    );
  });

  it.each([
    [
      Object.assign(new Error('Response does not match the HTTP/1.1 protocol (Invalid EOF state)'), {
        name: 'HTTPParserError',
      }),
      'the operator closed the connection (response cut short)',
    ],
    [
      Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } }),
      'the operator closed the connection (ECONNRESET)',
    ],
    [
      Object.assign(new Error('x'), { code: 'ENOTFOUND' }),
      'the operator is unreachable: its name does not resolve (ENOTFOUND)',
    ],
    [
      Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      "the operator's certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    ],
    [
      new Error('operator answered 403: {"error":"pod_not_found"}'),
      'operator answered 403: {"error":"pod_not_found"}',
    ],
  ])('%s', (error, reason) => {
    expect(streamErrorReason(error)).toBe(reason);
  });
});
