import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../contract/errors.ts';
import { sendError } from '../../sidecar/src/http/error-response.ts';
import { rawRequest } from '../helpers/raw-http.ts';

// An error answer after a response head that could not be written (a header Node.js refused)
// must not keep that head's reason phrase: it read `HTTP/1.1 502 OK`.

const BAD_GATEWAY = new HttpError('upstream_error', 502, 'The application sent an invalid response.');
const server = createServer((_req, res) => {
  try {
    res.writeHead(200, 'OK', ['x-broken', '\u0100']);
  } catch {
    sendError(res, BAD_GATEWAY, 'id-1', 'x-request-id', undefined, true);
  }
});
beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('sendError', () => {
  it('sends its own status line after a head that failed', async () => {
    const { port } = server.address() as AddressInfo;
    const response = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(response.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
    expect(response).toMatch(/^x-request-id: id-1\r$/m);
    expect(response).not.toMatch(/x-broken/);
  });
});
