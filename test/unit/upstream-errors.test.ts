import { errors, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamFault } from '../../sidecar/src/upstream/upstream-errors.ts';
import { type BrokenUpstream, startBrokenUpstream } from '../helpers/broken-upstream.ts';

// What a client is told when forwarding fails, and why the application failed it (the line's
// errorCause), by what undici or the socket reported. A request undici refuses to send is
// the gateway's own fault: it must not read as the application's.

const coded = (code: string) => Object.assign(new Error(`${code} somewhere`), { code });

describe('upstreamFault by error code', () => {
  it.each([
    ['refused', coded('ECONNREFUSED'), 502, 'upstream_unavailable', 'connect_refused'],
    ['connect timeout', new errors.ConnectTimeoutError(), 504, 'upstream_timeout', 'connect_timeout'],
    ['kernel timeout', coded('ETIMEDOUT'), 504, 'upstream_timeout', 'unreachable'],
    ['no route', coded('EHOSTUNREACH'), 502, 'upstream_unavailable', 'unreachable'],
    ['no network', coded('ENETUNREACH'), 502, 'upstream_unavailable', 'unreachable'],
    ['no address', coded('ENOTFOUND'), 502, 'upstream_unavailable', 'unresolved'],
    ['no answer from DNS', coded('EAI_AGAIN'), 502, 'upstream_unavailable', 'unresolved'],
    ['reset', coded('ECONNRESET'), 502, 'upstream_unavailable', 'reset'],
    ['broken pipe', coded('EPIPE'), 502, 'upstream_unavailable', 'reset'],
    ['headers timeout', new errors.HeadersTimeoutError(), 504, 'upstream_timeout', 'headers_timeout'],
    ['body timeout', new errors.BodyTimeoutError(), 504, 'upstream_timeout', 'body_timeout'],
    ['pool closed', new errors.ClientClosedError(), 502, 'upstream_unavailable', 'pool_closed'],
    ['pool destroyed', new errors.ClientDestroyedError(), 502, 'upstream_unavailable', 'pool_closed'],
    [
      'a self-signed certificate',
      coded('DEPTH_ZERO_SELF_SIGNED_CERT'),
      502,
      'upstream_unavailable',
      'tls_untrusted',
    ],
    [
      'an unknown issuer',
      coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      502,
      'upstream_unavailable',
      'tls_untrusted',
    ],
    ['an expired certificate', coded('CERT_HAS_EXPIRED'), 502, 'upstream_unavailable', 'tls_expired'],
    ['a certificate not valid yet', coded('CERT_NOT_YET_VALID'), 502, 'upstream_unavailable', 'tls_expired'],
    ['another name', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 502, 'upstream_unavailable', 'tls_name_mismatch'],
    [
      'no TLS at the port',
      coded('ERR_SSL_WRONG_VERSION_NUMBER'),
      502,
      'upstream_unavailable',
      'tls_handshake',
    ],
    [
      'a header the client refuses to write',
      new errors.InvalidArgumentError('invalid x-groups header'),
      500,
      'upstream_error',
      null,
    ],
    ['an error nobody knows', new Error('something else'), 502, 'upstream_error', null],
  ])('%s', (_, error, status, code, failure) => {
    const { answer, failure: why } = upstreamFault(error);
    expect(answer.status).toBe(status);
    expect(answer.code).toBe(code);
    expect(why).toBe(failure);
    if (status === 500) expect(answer.publicMessage).toBe('Internal error in the gateway.');
  });

  it('a connection closed is closed before the response, or mid-response once its head came', () => {
    const closed = new errors.SocketError('other side closed');
    expect(upstreamFault(closed, false).failure).toBe('closed_before_response');
    expect(upstreamFault(closed, true).failure).toBe('closed_mid_response');
    expect(upstreamFault(closed).answer.code).toBe('upstream_unavailable');
  });
});

// The same, from real sockets: what undici reports for each broken answer (its messages, not
// only its codes, tell some apart), so an undici upgrade that changes them fails here.
describe('upstreamFault for what a broken application sends', () => {
  let upstream: BrokenUpstream;
  beforeAll(async () => {
    upstream = await startBrokenUpstream();
  });
  afterAll(() => upstream.close());

  /** The fault of one request on a fresh pool, and whether its response head had come. */
  async function faultOf(path: string) {
    const pool = new Pool(upstream.url, { headersTimeout: 300, bodyTimeout: 300, maxHeaderSize: 16_384 });
    let headCame = false;
    try {
      const res = await pool.request({ path, method: 'GET' });
      headCame = true;
      await res.body.text();
      throw new Error(`${path} was answered whole`);
    } catch (error) {
      return upstreamFault(error, headCame);
    } finally {
      await pool.destroy();
    }
  }

  it.each([
    ['/reset', 'reset', 'upstream_unavailable'],
    ['/closed', 'closed_before_response', 'upstream_unavailable'],
    ['/cut', 'closed_mid_response', 'upstream_unavailable'],
    ['/cut-reset', 'reset', 'upstream_unavailable'],
    ['/silent', 'headers_timeout', 'upstream_timeout'],
    ['/stall', 'body_timeout', 'upstream_timeout'],
    ['/huge-head', 'headers_too_large', 'upstream_headers_too_large'],
    ['/two-lengths', 'length_mismatch', 'upstream_error'],
    ['/continue', 'unexpected_continue', 'upstream_error'],
    ['/upgrade', 'unexpected_upgrade', 'upstream_error'],
    ['/bad-status', 'invalid_response', 'upstream_error'],
    ['/bad-header', 'invalid_response', 'upstream_error'],
  ])('%s: %s', async (path, failure, code) => {
    const fault = await faultOf(path);
    expect(fault.failure).toBe(failure);
    expect(fault.answer.code).toBe(code);
  });

  it('a port nobody listens on is connect_refused', async () => {
    const gone = await startBrokenUpstream();
    await gone.close();
    const pool = new Pool(gone.url);
    const error = await pool.request({ path: '/', method: 'GET' }).catch((e: unknown) => e);
    await pool.destroy();
    expect(upstreamFault(error).failure).toBe('connect_refused');
  });
});
