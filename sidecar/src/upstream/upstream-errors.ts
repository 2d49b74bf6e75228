import type { UpstreamFailure } from '../../../contract/error-causes.ts';
import { HttpError } from '../../../contract/errors.ts';
import { closedForClientCertificate, isClientCertificateRefusal } from './tls-alerts.ts';

/** What the client is told of a failure: which of the four answers (the code of `error`). */
type Answer = 'timeout' | 'unavailable' | 'invalid' | 'too_large';

/** The code of unsupportedTransferCoding's error. */
const TRANSFER_CODING = 'GATEHOUSE_UPSTREAM_TRANSFER_CODING';

/** Why the application failed a request, and the answer it gets, by undici's or the socket's error code. */
const BY_CODE: ReadonlyMap<string, readonly [UpstreamFailure, Answer]> = new Map([
  ['ECONNREFUSED', ['connect_refused', 'unavailable']],
  ['UND_ERR_CONNECT_TIMEOUT', ['connect_timeout', 'timeout']],
  ['ETIMEDOUT', ['unreachable', 'timeout']],
  ['EHOSTUNREACH', ['unreachable', 'unavailable']],
  ['ENETUNREACH', ['unreachable', 'unavailable']],
  ['ENOTFOUND', ['unresolved', 'unavailable']],
  ['EAI_AGAIN', ['unresolved', 'unavailable']],
  ['ECONNRESET', ['reset', 'unavailable']],
  ['EPIPE', ['reset', 'unavailable']],
  ['UND_ERR_HEADERS_TIMEOUT', ['headers_timeout', 'timeout']],
  ['UND_ERR_BODY_TIMEOUT', ['body_timeout', 'timeout']],
  ['UND_ERR_HEADERS_OVERFLOW', ['headers_too_large', 'too_large']],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', ['length_mismatch', 'invalid']],
  ['UND_ERR_CLOSED', ['pool_closed', 'unavailable']],
  ['UND_ERR_DESTROYED', ['pool_closed', 'unavailable']],
  [TRANSFER_CODING, ['unsupported_transfer_coding', 'invalid']],
] as const);

/** Node's (OpenSSL's) codes for a certificate that does not chain to a trusted CA. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'CERT_CHAIN_TOO_LONG',
]);

/** An https upstream's TLS failures, by what to fix: its CA, its renewal, the name checked, or the protocol. */
function tlsFailure(code: string): UpstreamFailure | undefined {
  if (UNTRUSTED_CERTIFICATE.has(code)) return 'tls_untrusted';
  if (isClientCertificateRefusal(code)) return 'tls_client_certificate';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'tls_expired';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'tls_name_mismatch';
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) return 'tls_handshake';
  return undefined;
}

/**
 * undici's SocketError for a response it will not read: `bad response` is a `100 Continue` the
 * request did not ask for (the sidecar never forwards `Expect`), `bad upgrade` a `101` to a
 * request that asked for no upgrade. Any other SocketError is the connection closing.
 */
const SOCKET_REFUSALS: ReadonlyMap<string, UpstreamFailure> = new Map([
  ['bad response', 'unexpected_continue'],
  ['bad upgrade', 'unexpected_upgrade'],
] as const);

/**
 * The final response head did not come within the response headers timeout, though informational
 * responses (1xx) did: classified as undici's own headers timeout (504 `headers_timeout`).
 */
export function informationalTimeout(): Error {
  return Object.assign(
    new Error('informational responses (1xx) but no final response head within the response headers timeout'),
    { code: 'UND_ERR_HEADERS_TIMEOUT' },
  );
}

/**
 * The application's response came in a transfer coding besides chunked (`gzip, chunked`): the
 * HTTP client takes off the chunking only, and the client would get the still-coded bytes as the
 * body. Answered 502 `unsupported_transfer_coding`, as nginx does.
 */
export function unsupportedTransferCoding(value: string): Error {
  return Object.assign(new Error(`response in transfer coding ${JSON.stringify(value.slice(0, 64))}`), {
    code: TRANSFER_CODING,
  });
}

/** A forward that failed: what the client is told, and why the application failed it (for the log). */
export interface UpstreamFault {
  readonly answer: HttpError;
  /** Null when the failure is not the application's (the gateway's own fault, an unknown error). */
  readonly failure: UpstreamFailure | null;
}

/** A failure of the gateway itself: 500; `detail` (a stack, an error's code) stays in the log. */
export function gatewayFault(detail: string): HttpError {
  return new HttpError('upstream_error', 500, 'Internal error in the gateway.', detail);
}

function answerOf(kind: Answer, detail: string): HttpError {
  switch (kind) {
    case 'timeout':
      return new HttpError(
        'upstream_timeout',
        504,
        'The application did not answer in time. Try again shortly.',
        detail,
      );
    case 'unavailable':
      return new HttpError(
        'upstream_unavailable',
        502,
        'The application is not reachable right now. Try again shortly.',
        detail,
      );
    // The application's response head is larger than the sidecar reads (a page that sets many or
    // large cookies): a code of its own, so the log says what to raise, not just that it failed.
    case 'too_large':
      return new HttpError(
        'upstream_headers_too_large',
        502,
        'The application sent response headers larger than the gateway reads.',
        detail,
      );
    case 'invalid':
      return new HttpError('upstream_error', 502, 'The application sent an invalid response.', detail);
  }
}

function classify(
  code: string,
  error: unknown,
  responseStarted: boolean,
): readonly [UpstreamFailure, Answer] | null {
  const known = BY_CODE.get(code);
  if (known) return known;
  if (code === 'UND_ERR_SOCKET') {
    const refusal = SOCKET_REFUSALS.get((error as Error).message);
    if (refusal) return [refusal, 'invalid'];
    if (!responseStarted && closedForClientCertificate(error))
      return ['tls_client_certificate', 'unavailable'];
    return [responseStarted ? 'closed_mid_response' : 'closed_before_response', 'unavailable'];
  }
  if ((error as Error).name === 'HTTPParserError') return ['invalid_response', 'invalid'];
  const tls = tlsFailure(code);
  if (tls) return [tls, 'unavailable'];
  return null;
}

/**
 * Maps an undici/socket error to the answer the client gets (504 for timeouts, 500 for a request
 * the HTTP client refused to send, 502 otherwise) and to why the application failed it.
 * `responseStarted`: the application's response head had come (a close is then mid-response).
 */
export function upstreamFault(error: unknown, responseStarted = false): UpstreamFault {
  const code = (error as { code?: string }).code ?? '';
  const detail = `${code} ${(error as Error).message ?? ''}`.trim();
  // The HTTP client refused the request the gateway built (a header it cannot write): the
  // gateway's fault, never to be reported as the application's.
  if (code === 'UND_ERR_INVALID_ARG') return { answer: gatewayFault(detail), failure: null };
  const known = classify(code, error, responseStarted);
  if (known) return { answer: answerOf(known[1], detail), failure: known[0] };
  return { answer: answerOf('invalid', detail), failure: null };
}
