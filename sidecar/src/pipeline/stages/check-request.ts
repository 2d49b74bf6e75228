import { HttpError } from '../../../../contract/errors.ts';
import { canonicalizeTarget } from '../../../../contract/policy/canonical-path.ts';
import { normaliseHost } from '../../../../lib/net/host.ts';
import type { RequestScope } from '../../request-scope.ts';

const EXPECTATION_FAILED = new HttpError(
  'expectation_failed',
  417,
  'The expectation in the Expect header is not supported; only 100-continue is.',
);

/**
 * A body in a transfer coding besides chunked (`gzip, chunked`): the parser takes off the
 * chunking only, and the application would get the still-coded bytes as the body itself, with
 * nothing to say so (Transfer-Encoding does not travel past a hop). RFC 9112 §6.1: 501. A list
 * that does not end in chunked has no framing at all: the parser refuses it (400,
 * `invalid_transfer_encoding`).
 */
const CODING_NOT_SUPPORTED = new HttpError(
  'transfer_coding_not_supported',
  501,
  'A request body in a transfer coding other than chunked is not supported.',
);

/** CONNECT, answered by the server before the stages (Node hands it over as a socket of its own). */
export const CONNECT_REFUSED = new HttpError(
  'connect_not_supported',
  405,
  'CONNECT is not supported: this is a gateway for one application, not a forward proxy.',
);

/**
 * TRACE asks the application to echo the request it received: that is the identity headers and
 * the signed identity JWT this sidecar stamped on it, and the application's own cookies, handed
 * back to whoever sent it (cross-site tracing). Apache httpd echoes TRACE by default; Traffic
 * Server and nginx refuse it. Refused here for every application. (IIS's TRACK is not a method
 * Node.js's parser knows: 400 before any stage.)
 */
export const TRACE_REFUSED = new HttpError(
  'trace_not_supported',
  405,
  'TRACE is not supported: the application would echo the identity this gateway gave it.',
);

/** `Transfer-Encoding`, as its length tells it apart before it is compared. */
const TRANSFER_ENCODING = 'transfer-encoding';

/**
 * Request hygiene before anything else looks at the request: exactly one valid Host that belongs
 * to the application, an origin-form target reduced to its canonical path (for an application
 * whose paths compare without regard to case, none that Windows reads as another), no transfer coding
 * but chunked, no TRACE, and no Expect other than 100-continue (RFC 9110 §10.1.1 lets a server refuse any
 * other with 417).
 */
export function checkRequest(scope: RequestScope): HttpError | undefined {
  const raw = scope.req.rawHeaders;
  let host: string | undefined;
  let hostCount = 0;
  let codings: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hostCount++;
      host = raw[i + 1] as string;
    } else if (name.length === TRANSFER_ENCODING.length && name.toLowerCase() === TRANSFER_ENCODING)
      codings = codings === undefined ? (raw[i + 1] as string) : `${codings},${raw[i + 1]}`;
  }
  const target = scope.req.url ?? '';
  if (target === '*' || !target.startsWith('/')) {
    return new HttpError('bad_request_target', 400, 'Bad request target.', `target ${target.slice(0, 64)}`);
  }
  scope.host = host ?? '';
  if (hostCount > 1) return new HttpError('duplicate_host', 400, 'Bad request: more than one Host header.');
  const normalised = host === undefined ? undefined : normaliseHost(host);
  if (normalised === undefined)
    return new HttpError('bad_host', 400, 'Bad request: missing or invalid Host header.');
  scope.host = normalised;
  const canonical = canonicalizeTarget(target, {
    windowsPaths: scope.state.config.upstream.caseInsensitivePaths === true,
  });
  if ('error' in canonical)
    return new HttpError(canonical.error, 400, 'Bad request: ambiguous or invalid path.', canonical.detail);
  scope.path = canonical.path;
  scope.query = canonical.query;
  if (!scope.state.hosts(normalised)) {
    return new HttpError('unknown_host', 421, 'This host is not served here.', `host ${normalised}`);
  }
  if (scope.req.method === 'TRACE') return TRACE_REFUSED;
  if (codings !== undefined && codedBeforeChunked(codings)) return CODING_NOT_SUPPORTED;
  if (scope.expectation === 'unsupported') return EXPECTATION_FAILED;
  return undefined;
}

/** A list of transfer codings that ends in chunked and has another before it. */
function codedBeforeChunked(codings: string): boolean {
  const list = codings
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  return list.length > 1 && list[list.length - 1] === 'chunked';
}
