import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { upstreamHttpError } from '../../sidecar/src/upstream/upstream-errors.ts';

// What a client is told when forwarding fails, by what undici or the socket reported. A request
// undici refuses to send is the gateway's own fault: it must not read as the application's.

describe('upstreamHttpError', () => {
  it.each([
    ['connect timeout', new errors.ConnectTimeoutError(), 504, 'upstream_timeout'],
    ['headers timeout', new errors.HeadersTimeoutError(), 504, 'upstream_timeout'],
    [
      'refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      502,
      'upstream_unavailable',
    ],
    ['socket closed', new errors.SocketError('other side closed'), 502, 'upstream_unavailable'],
    [
      'a malformed response',
      new errors.HTTPParserError('Response does not match the HTTP/1.1 protocol'),
      502,
      'upstream_error',
    ],
    [
      'a header the client refuses to write',
      new errors.InvalidArgumentError('invalid x-groups header'),
      500,
      'upstream_error',
    ],
  ])('%s', (_, error, status, code) => {
    const answer = upstreamHttpError(error);
    expect(answer.status).toBe(status);
    expect(answer.code).toBe(code);
    if (status === 500) expect(answer.publicMessage).toBe('Internal error in the gateway.');
  });
});
