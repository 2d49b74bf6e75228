/**
 * The causes a request line gives for its error (`errorCause`), by whose they are. Kept apart
 * from the line's schema (contract/log-line.ts) so that the sidecar, which writes them, does not
 * load the schemas.
 */

/**
 * Why the application's connection or response failed, for `upstream_unavailable`,
 * `upstream_error`, `upstream_timeout` and `upstream_headers_too_large`: one code of `error`
 * covers several causes, and what to fix depends on which.
 */
export const UPSTREAM_FAILURES = [
  'connect_refused',
  'connect_timeout',
  'unreachable',
  'unresolved',
  'reset',
  'closed_before_response',
  'closed_mid_response',
  'headers_timeout',
  'body_timeout',
  'headers_too_large',
  'length_mismatch',
  'unexpected_continue',
  'unexpected_upgrade',
  'unsupported_transfer_coding',
  'invalid_response',
  'pool_closed',
  'tls_untrusted',
  'tls_expired',
  'tls_name_mismatch',
  'tls_handshake',
  'tls_client_certificate',
] as const;

export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number];

/**
 * What the HTTP parser refused in a request (`bad_request`): a smuggling attempt (two lengths,
 * a bare line ending) reads differently from a scanner's junk, a TLS client at the plain port, or
 * an HTTP/2 client at this HTTP/1.1 one. The last three are the PROXY protocol's: a connection
 * from a load balancer of spec.proxyProtocol that began without its header, or with a broken one,
 * and a header from a peer that is not one of those balancers.
 */
export const REQUEST_FAULTS = [
  'tls_to_plain_port',
  'h2_to_http1_port',
  'invalid_request_line',
  'invalid_line_ending',
  'invalid_header',
  'conflicting_length',
  'invalid_length',
  'invalid_transfer_encoding',
  'invalid_chunk',
  'malformed',
  'proxy_header_missing',
  'proxy_header_invalid',
  'proxy_header_unexpected',
] as const;

export type RequestFault = (typeof REQUEST_FAULTS)[number];

/**
 * Why a request found no room (`upstream_busy`, `tunnel_limit`): the whole queue or the tunnels
 * were full, or the anonymous share of the tunnels, or only the caller's share of them, or no
 * upstream connection came in time.
 */
export const OVERLOADS = [
  'queue_full',
  'caller_queue_full',
  'queue_timeout',
  'tunnels_full',
  'anonymous_tunnels_full',
  'caller_tunnels_full',
] as const;

export type Overload = (typeof OVERLOADS)[number];

/**
 * Why a slow client's request was cut: it took its response under `--client-send-min-rate` over
 * an idle timeout (`response_read_too_slow`), or, while another caller's request waited for the
 * upstream connection it held, it sent its body (`body_too_slow`) or took its response
 * (`response_read_too_slow`) under `--client-contended-rate`, and the connection went to them.
 */
export const SLOW_CLIENTS = ['under_min_rate', 'upstream_wanted'] as const;

export type SlowClient = (typeof SLOW_CLIENTS)[number];

/** Why a sign-in failed (`login_failed`): the reason of its `login_failed` event, on the callback's line too. */
export const LOGIN_FAILURES = [
  'state_missing',
  'state_unknown',
  'state_reused',
  'state_mismatch',
  'browser_mismatch',
  'login_expired',
  'provider_unknown',
  'provider_error',
  'provider_unavailable',
  'provider_busy',
  'client_gone',
  'shutting_down',
  'token_rejected',
  'subject_invalid',
  'session_too_large',
  'authentication_not_recent',
  'acr_not_satisfied',
] as const;

export type LoginFailure = (typeof LOGIN_FAILURES)[number];

export type ErrorCause = UpstreamFailure | RequestFault | Overload | SlowClient | LoginFailure;

export type CauseKind = 'upstream' | 'request' | 'overload' | 'slow_client' | 'login';

const KIND_OF_CAUSE: ReadonlyMap<string, CauseKind> = new Map([
  ...UPSTREAM_FAILURES.map((c) => [c, 'upstream'] as const),
  ...REQUEST_FAULTS.map((c) => [c, 'request'] as const),
  ...OVERLOADS.map((c) => [c, 'overload'] as const),
  ...SLOW_CLIENTS.map((c) => [c, 'slow_client'] as const),
  ...LOGIN_FAILURES.map((c) => [c, 'login'] as const),
]);

/**
 * Whose a cause is: the application's failure, the parser's refusal, the gateway's lack of room,
 * a client that took its response too slowly, or a sign-in's.
 */
export function kindOfCause(cause: ErrorCause): CauseKind {
  return KIND_OF_CAUSE.get(cause) as CauseKind;
}
