import Type, { type Static, type TSchema } from 'typebox';
import { StringEnum } from './api/schema-helpers.ts';
import {
  LOGIN_FAILURES,
  OVERLOADS,
  REQUEST_FAULTS,
  SLOW_CLIENTS,
  UPSTREAM_FAILURES,
} from './error-causes.ts';

/**
 * The request line, the core output of every sidecar, in both field profiles: the sidecar's
 * writer is typed by these schemas, docs/logs.md's tables are generated from them
 * (contract/log-reference.ts), and tests check real lines against them.
 */

export const Nullable = <T extends TSchema>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description });

const OUTCOMES = [
  'served',
  'denied',
  'rejected',
  'upstream_error',
  'upstream_timeout',
  'client_abort',
  'client_timeout',
  'upgraded',
  'overloaded',
  'login_redirect',
  'gateway',
] as const;

const ErrorCauseField = (description: string) =>
  Nullable(
    StringEnum([...UPSTREAM_FAILURES, ...REQUEST_FAULTS, ...OVERLOADS, ...SLOW_CLIENTS, ...LOGIN_FAILURES], {
      description: 'Why `error` happened.',
    }),
    description,
  );

/** The caller's identity on a log line: an allowlist, never claims or tokens. */
export const LoggedIdentity = Type.Object(
  {
    kind: Type.String({ description: '`user`, `service-token` or `service-account`.' }),
    sub: Type.String({ description: 'Subject.' }),
    email: Nullable(Type.String(), 'Email, when the caller has a verified one.'),
    idp: Nullable(Type.String(), 'Identity provider of a user.'),
  },
  { additionalProperties: false },
);

export const Decision = Type.Object(
  {
    action: Type.String({ description: 'What the policies decided.' }),
    policy: Nullable(Type.String(), 'The deciding policy.'),
    rule: Nullable(Type.String(), 'The deciding selector, e.g. `include[1].groups`.'),
    reason: Type.String({ description: 'Why, as a stable code.' }),
  },
  { additionalProperties: false },
);

const EndedSession = Type.Object(
  {
    sessionId: Type.String(),
    reason: StringEnum(['signed_out', 'revoked', 'expired'] as const, { description: 'Why it had ended.' }),
    sub: Type.String(),
    email: Nullable(Type.String(), 'Email of the session.'),
    idp: Type.String(),
  },
  { additionalProperties: false },
);

const Outcome = StringEnum(OUTCOMES, {
  description:
    'How the request ended: `served`, `denied` (also a request in progress that its session\u2019s end or a policy change ended: `error` says which, `status` what had been sent), `rejected` (malformed, unknown host), `upstream_error`, `upstream_timeout`, `client_abort` (499: the client reset, or closed while its response streamed), `client_timeout` (408: head, body rate or request deadline; or the idle timeout), `overloaded` (503: no upstream connection in time, or the tunnel caps), `upgraded`, `login_redirect` (sent to sign in), `gateway` (answered under `/.gatehouse/`, or `<base>/.gatehouse/` for an application under a path of a shared host).',
});

const Headers = Type.Record(Type.String(), Type.String());

export const NativeRequestLine = Type.Object(
  {
    type: Type.Literal('request', { description: 'Line kind.' }),
    time: Type.String({ description: 'When the line was written (= `end`), RFC 3339.' }),
    requestId: Type.String({
      description:
        'Request id; also sent upstream and returned in `X-Request-Id` (header configurable). Taken from a trusted proxy when well-formed, otherwise a UUID.',
    }),
    traceId: Type.String({
      pattern: '^[0-9a-f]{32}$',
      description:
        "W3C trace id: of the `traceparent` a trusted proxy sent, else of the one Gatehouse started; the application receives that `traceparent`, so the line joins the application's traces.",
    }),
    seq: Type.Integer({
      minimum: 1,
      description:
        "The sidecar process's request sequence number, in order of start (from 1 at each start of the process): two requests that start in the same millisecond are still ordered exactly; `gatehouse audit` sorts by `start`, then `seq`.",
    }),
    app: Type.String({
      description: '`namespace/name` of the AccessApplication (`name` in standalone mode).',
    }),
    host: Type.String({ description: 'Host header as received (lower-cased).' }),
    method: Type.String({ description: 'HTTP method.' }),
    uri: Type.String({
      description:
        'Canonical path and query (sensitive query values redacted); the raw target when it was refused as malformed.',
    }),
    protocol: Type.String({ description: '`HTTP/1.1` or `HTTP/1.0`.' }),
    status: Type.Integer({
      description:
        'Status sent to the client; `101` for WebSocket tunnels; `499` when the client left before a response started.',
    }),
    outcome: Outcome,
    error: Nullable(
      Type.String(),
      'Stable error code when something failed (`upstream_unavailable`, `upstream_busy`, `tunnel_limit`, `body_too_slow`, `request_deadline`, `response_read_too_slow` (the client took its response too slowly; `errorCause` says which rate), `connect_not_supported`, `trace_not_supported`, `pipelining_limit`, `bad_request`, `ambiguous_path`, `headers_too_large`, `upstream_headers_too_large` (the response head of the application is over `spec.upstream.maxResponseHeaderBytes`), …).',
    ),
    errorCause: ErrorCauseField(
      'Why `error` happened, where one code has several causes. For the failures of the application (`upstream_unavailable`, `upstream_error`, `upstream_timeout`, `upstream_headers_too_large`): `connect_refused` (nothing listens on the upstream port), `connect_timeout`, `unreachable` (no route, or the connection timed out in the kernel), `unresolved` (the upstream host name has no address), `reset` (the application reset the connection), `closed_before_response` (it closed the connection before any response: a crash, or a kept-alive connection closed at the moment a request was sent on it), `closed_mid_response` (it closed the connection while sending the body), `headers_timeout` (no final response head within `spec.upstream.timeouts.responseHeaders`, informational ones such as `103 Early Hints` not counting), `body_timeout` (silent mid-body for `spec.upstream.timeouts.idle`), `headers_too_large`, `length_mismatch` (a body longer or shorter than its `Content-Length`, or conflicting lengths), `unexpected_continue` (a `100 Continue` nobody asked for), `unexpected_upgrade` (a `101` to a request that asked for no upgrade), `unsupported_transfer_coding` (a response in a transfer coding besides chunked, such as `gzip, chunked`), `invalid_response` (a status line or header that is not HTTP/1.1), `pool_closed` (the sidecar had closed its connections to the application before the request could use one: shutdown past its grace), `tls_untrusted` (an https upstream whose certificate does not chain to a trusted CA: a self-signed or internal one, without `spec.upstream.tls.caSecretRef`), `tls_expired` (its certificate has expired or is not valid yet), `tls_name_mismatch` (its certificate does not name the host the sidecar checks: `spec.upstream.tls.serverName`), `tls_handshake` (no TLS handshake: a plain-HTTP port behind an https URL, or no protocol or cipher in common), `tls_client_certificate` (the application asked for a client certificate and took none: none is configured in `spec.upstream.tls.clientCertificateSecretRef`, or it does not trust, or no longer takes, the one sent). For a malformed request (`bad_request`), what the HTTP parser refused: `tls_to_plain_port` (a TLS handshake: the client, or the ingress in front, speaks HTTPS to this plain-HTTP port), `h2_to_http1_port` (the HTTP/2 connection preface: the ingress, a load balancer or a mesh speaks HTTP/2 without TLS (h2c, gRPC) to this HTTP/1.1 port), `invalid_request_line` (method, target or version), `invalid_line_ending` (a bare CR or LF), `invalid_header` (a name or value that is not HTTP, folded lines included), `conflicting_length` (`Content-Length` twice, or with `Transfer-Encoding`: a request smuggling attempt), `invalid_length`, `invalid_transfer_encoding`, `invalid_chunk` (a chunk of the body), `malformed` (anything else), `proxy_header_missing` (a connection from a load balancer of `spec.proxyProtocol` began without its PROXY protocol header), `proxy_header_invalid` (its PROXY protocol header was malformed, or its checksum, PP2_TYPE_CRC32C, did not match), `proxy_header_unexpected` (a PROXY protocol header from a peer not in `spec.proxyProtocol.from`: a load balancer that sends it to an application that does not list it, or a client that forged one; never believed). When there was no room (`upstream_busy`, `tunnel_limit`): `queue_full` (`--upstream-queue-size` requests were waiting), `caller_queue_full` (the waiting requests of the same caller held its share of that queue, `--client-share`), `queue_timeout` (no upstream connection within `--upstream-queue-timeout`), `tunnels_full` (`--max-tunnels`), `anonymous_tunnels_full` (anonymous callers held their share of the tunnels together, `--anonymous-share`), `caller_tunnels_full` (`--max-client-tunnels`). For a client too slow (`response_read_too_slow`, `body_too_slow`): `under_min_rate` (it took its response, or what the application of its WebSocket sent, under `--client-send-min-rate` over an idle timeout it kept it waiting), `upstream_wanted` (a request of another caller waited for the upstream connection it held, and it had taken its response, or sent its body, under `--client-contended-rate` for 5 s or more: the connection went to that request); a body under its own minimum rate has none. For a sign-in that failed (`login_failed`, on the line of the callback or of the route that started it, also when the browser, signed in meanwhile, was sent on to its page): the reason of its `login_failed` event (`browser_mismatch`, `state_unknown`, `token_rejected`, ...). Null otherwise, also when the gateway itself failed.',
    ),
    bytesIn: Type.Integer({ minimum: 0, description: 'Bytes received from the client, headers included.' }),
    bytesOut: Type.Integer({ minimum: 0, description: 'Bytes sent to the client, headers included.' }),
    start: Type.String({ description: 'Request start, RFC 3339 with milliseconds.' }),
    end: Type.String({ description: 'Request end, RFC 3339 with milliseconds.' }),
    durationMs: Type.Number({ minimum: 0, description: 'End minus start, microsecond precision.' }),
    upstreamMs: Nullable(
      Type.Number(),
      "Time from sending upstream to the upstream's response headers; null when never forwarded.",
    ),
    clientIp: Type.String({
      description:
        'Client address: the peer, or, when the peer is a trusted proxy, the first untrusted hop walking `X-Forwarded-For` right to left.',
    }),
    peerIp: Type.String({
      description:
        'TCP peer address; from a load balancer of `spec.proxyProtocol`, the client its PROXY protocol header named.',
    }),
    privateEndpoint: Type.Optional(
      Type.String({
        description:
          'Only on requests that came through a private endpoint, as the PROXY protocol header of a load balancer of `spec.proxyProtocol` named it: `aws:<VPC endpoint id>` (AWS PrivateLink), `azure:<LinkID>` (Azure Private Link) or `gcp:<connection id>` (GCP Private Service Connect). It names the consumer where `peerIp`, an address in the consumer\u2019s own network, may not (two consumers may use the same ranges). Absent otherwise.',
      }),
    ),
    userAgent: Nullable(
      Type.String(),
      'User-Agent header: the text its bytes encode as UTF-8, or their Latin-1 reading when they are not UTF-8.',
    ),
    identity: Nullable(
      LoggedIdentity,
      'The authenticated caller; null when anonymous. Never claims or tokens.',
    ),
    sessionId: Nullable(
      Type.String(),
      'Session id of a signed-in user (never the cookie); the same id is in `login_succeeded`, `logout` and the JWT `sid`.',
    ),
    endedSession: Nullable(
      EndedSession,
      'A session cookie presented but refused because its session had ended; the request itself goes on anonymous (`identity` and `sessionId` null) and `gatehouse audit` ties it to that session.',
    ),
    authMethod: Nullable(Type.String(), '`oidc`, `service-token` or `service-account`; null when anonymous.'),
    decision: Nullable(
      Decision,
      'What the policies decided and why (see [policy.md](policy.md#decisions-in-the-log)); null when refused before authorization.',
    ),
    auditDecision: Nullable(
      Decision,
      "What the decision would have been with the application's audit-mode policies enforced; null when it has none.",
    ),
    upgrade: Type.Boolean({ description: 'True for WebSocket upgrades.' }),
    configGeneration: Type.String({ description: 'Hash of the configuration that served the request.' }),
    requestHeaders: Nullable(
      Headers,
      'Headers listed in `spec.logging.requestHeaders`; values read as `userAgent` is.',
    ),
  },
  { additionalProperties: false, description: 'The request line, native profile.' },
);

export type NativeRequestLine = Static<typeof NativeRequestLine>;

export const CloudflareRequestLine = Type.Object(
  {
    ClientIP: Type.String({ description: '`clientIp`.' }),
    ClientRequestHost: Type.String({ description: '`host`.' }),
    ClientRequestMethod: Type.String({ description: '`method`.' }),
    ClientRequestURI: Type.String({ description: '`uri`.' }),
    ClientRequestUserAgent: Type.String({ description: '`userAgent` (`""` when absent).' }),
    ClientRequestProtocol: Type.String({ description: '`protocol`.' }),
    ClientRequestBytes: Type.Integer({ minimum: 0, description: '`bytesIn`.' }),
    EdgeStartTimestamp: Type.String({ description: '`start`.' }),
    EdgeEndTimestamp: Type.String({ description: '`end`.' }),
    EdgeResponseBytes: Type.Integer({ minimum: 0, description: '`bytesOut`.' }),
    EdgeResponseStatus: Type.Integer({ description: '`status`.' }),
    OriginResponseDurationMs: Nullable(Type.Integer(), '`upstreamMs`, rounded.'),
    RayID: Type.String({ description: '`requestId`.' }),
    GatehouseSeq: Type.Integer({ minimum: 1, description: '`seq`.' }),
    GatehouseTraceID: Type.String({ pattern: '^[0-9a-f]{32}$', description: '`traceId`.' }),
    RequestHeaders: Type.Record(Type.String(), Type.String(), {
      description: '`requestHeaders` (`{}` when none).',
    }),
    GatehouseType: Type.Literal('request', { description: '`type`.' }),
    GatehouseApp: Type.String({ description: '`app`.' }),
    GatehouseOutcome: Outcome,
    GatehouseError: Nullable(Type.String(), '`error`.'),
    GatehouseErrorCause: ErrorCauseField('`errorCause`.'),
    GatehouseIdentity: Nullable(LoggedIdentity, '`identity`.'),
    GatehouseSessionID: Nullable(Type.String(), '`sessionId`.'),
    GatehouseEndedSession: Nullable(EndedSession, '`endedSession`.'),
    GatehouseAuthMethod: Nullable(Type.String(), '`authMethod`.'),
    GatehouseDecision: Nullable(Decision, '`decision`.'),
    GatehouseAuditDecision: Nullable(Decision, '`auditDecision`.'),
    GatehouseConfigGeneration: Type.String({ description: '`configGeneration`.' }),
    GatehousePrivateEndpoint: Type.Optional(
      Type.String({
        description: '`privateEndpoint`: only on requests that came through a private endpoint.',
      }),
    ),
  },
  { additionalProperties: false, description: 'The request line, Cloudflare profile.' },
);

export type CloudflareRequestLine = Static<typeof CloudflareRequestLine>;
