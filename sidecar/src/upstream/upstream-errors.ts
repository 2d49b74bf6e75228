import { HttpError } from '../../../contract/errors.ts';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** A failure of the gateway itself: 500; `detail` (a stack, an error's code) stays in the log. */
export function gatewayFault(detail: string): HttpError {
  return new HttpError('upstream_error', 500, 'Internal error in the gateway.', detail);
}

/**
 * Maps an undici/socket error to the answer the client gets: 504 for timeouts, 500 for a request
 * the HTTP client refused to send, 502 otherwise.
 */
export function upstreamHttpError(error: unknown): HttpError {
  const code = (error as { code?: string }).code ?? '';
  const detail = `${code} ${(error as Error).message ?? ''}`.trim();
  if (TIMEOUT_CODES.has(code)) {
    return new HttpError(
      'upstream_timeout',
      504,
      'The application did not answer in time. Try again shortly.',
      detail,
    );
  }
  if (UNAVAILABLE_CODES.has(code)) {
    return new HttpError(
      'upstream_unavailable',
      502,
      'The application is not reachable right now. Try again shortly.',
      detail,
    );
  }
  // The HTTP client refused the request the gateway built (a header it cannot write): the
  // gateway's fault, never to be reported as the application's.
  if (code === 'UND_ERR_INVALID_ARG') return gatewayFault(detail);
  // The application's response head is larger than the sidecar reads (a page that sets many or
  // large cookies): a code of its own, so the log says what to raise, not just that it failed.
  if (code === 'UND_ERR_HEADERS_OVERFLOW')
    return new HttpError(
      'upstream_headers_too_large',
      502,
      'The application sent response headers larger than the gateway reads.',
      detail,
    );
  return new HttpError('upstream_error', 502, 'The application sent an invalid response.', detail);
}
