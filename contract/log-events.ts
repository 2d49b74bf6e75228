import Type, { type TObject } from 'typebox';
import { StringEnum } from './api/schema-helpers.ts';
import { LOGIN_FAILURES } from './error-causes.ts';
import { event, type Fields, int, lineSchema, opt, str } from './event-schema.ts';
import { Decision, LoggedIdentity, NativeRequestLine, Nullable } from './log-line.ts';
import { SESSION_END_GIVEN_UP } from './session-end-outcomes.ts';

/**
 * Every event line the sidecar writes beside its request lines, in both log profiles (events are
 * the same in both): `type` and `time`, then the fields of its schema here. The writer
 * (contract/event-writer.ts) is typed by these schemas (a field they do not list is a compile
 * error), docs/logs.md's event tables are generated from them, and the tests check every line
 * their sidecars write against them.
 */

/** Why a service token was refused. */
export const SERVICE_TOKEN_FAILURES = [
  'token_incomplete',
  'token_unknown',
  'token_secret_mismatch',
  'token_expired',
] as const;

/** Why a Kubernetes ServiceAccount token was refused. */
export const SERVICE_ACCOUNT_FAILURES = [
  'token_malformed',
  'token_expired',
  'token_wrong_issuer',
  'token_wrong_audience',
  'token_bad_signature',
  'token_unknown_key',
  'token_not_service_account',
  'issuer_keys_unavailable',
] as const;

/** Why a back-channel logout token was refused (the body checks first, then the token's). */
export const LOGOUT_TOKEN_REFUSALS = [
  'too_large',
  'missing_token',
  'malformed',
  'unknown_issuer',
  'wrong_audience',
  'bad_signature',
  'expired',
  'stale_iat',
  'missing_events',
  'nonce_present',
  'missing_sid_and_sub',
  'missing_jti',
  'replayed_jti',
  'provider_unavailable',
  'busy',
] as const;

/** Why listing a user's groups from Microsoft Graph failed (groupsOverage). */
export const GROUPS_LIST_FAILURES = [
  'no_access_token',
  'graph_refused',
  'graph_error',
  'graph_unreachable',
  'bad_answer',
  'next_page_elsewhere',
  'too_many_memberships',
] as const;
export type GroupsListFailure = (typeof GROUPS_LIST_FAILURES)[number];

/** Why a front-channel logout ended nothing. */
export const FRONTCHANNEL_LOGOUT_REFUSALS = ['missing_sid', 'unknown_issuer', 'unknown_session'] as const;
export type FrontchannelLogoutRefusalCode = (typeof FRONTCHANNEL_LOGOUT_REFUSALS)[number];

export { LOGIN_FAILURES, type LoginFailure } from './error-causes.ts';
export type LogoutTokenRefusalCode = (typeof LOGOUT_TOKEN_REFUSALS)[number];

/** The request line's fields, for events that describe a request. */
const RequestFields = NativeRequestLine.properties;

const Provider = str('The identity provider (its name in the application).');
const Subject = str('The subject (`sub`) at that provider.');
const Email = Nullable(Type.String(), 'Verified email; null when the provider gave none.');
const SessionId = str(
  'The Gatehouse session id (never the cookie); the JWT `sid` and the request lines carry it.',
);
const App = str('`namespace/name` of the AccessApplication (`name` in standalone mode).');
const AppOrNull = Nullable(Type.String(), 'The application; null before the first config.');

/** An error that nothing handled, as a process reports it before it exits (sidecar and operator). */
export const DefectFields = {
  origin: StringEnum(['uncaught_exception', 'unhandled_rejection'] as const, {
    description:
      '`uncaught_exception`: thrown where nothing caught it; `unhandled_rejection`: a promise rejected with no handler.',
  }),
  error: str(
    'Its name and message, at most 1,000 characters; anything shaped like a credential (a JWT, a `Bearer` or `Basic` value, a run of 40 or more token characters) is replaced, and so is every secret of the configs in force, by its value (`[secret]`: client secrets of any shape, cookie and signing keys).',
  ),
  stack: Type.Array(Type.String(), {
    description:
      "Where it was thrown: at most 10 frames, each placed in Gatehouse's source (`sidecar/src/server.ts:277:5`) when the source map beside the minified bundle places it, scrubbed the same way.",
  }),
};

/** Who a revocation or an unreported session end is for: exactly one of these shapes. */
export const RevocationTarget = {
  user: opt(str('Every session of this email.')),
  session: opt(str('One session (a sign-out elsewhere).')),
  providerSession: opt(
    str("The identity provider's session id (`sid`): a back-channel or front-channel logout."),
  ),
  subject: opt(Nullable(Type.String(), 'Every session of this subject at `provider`.')),
  provider: opt(Nullable(Type.String(), 'The identity provider of `subject` or `providerSession`.')),
};

/** The fields of `websocket_closed` and `response_closed`: what ended an exchange still open. */
function liveClosureFields(requestId: string, whose: string) {
  return {
    app: App,
    requestId: str(requestId),
    reason: StringEnum(
      [
        'policy_changed',
        'session_revoked',
        'credential_expired',
        'credential_revoked',
        'fresh_sign_in_required',
      ] as const,
      {
        description: `\`policy_changed\`, \`session_revoked\`, \`credential_expired\` (the session ${whose} reached its absolute lifetime, or the ServiceAccount token or service token its expiry), \`credential_revoked\` (a new config no longer accepts it: the cookie key its session was sealed under removed, its service token removed or its secret replaced, or its ServiceAccount token's issuer or audience no longer taken), or \`fresh_sign_in_required\` (the user's authentication at the provider became older than a \`signedInWithin\` of the policies, which no longer admit it).`,
      },
    ),
    decision: opt(
      Type.Object(Decision.properties, {
        additionalProperties: false,
        description:
          'The decision a request would get now (`policy_changed`, `fresh_sign_in_required`: usually a deny `fresh_sign_in_required` naming the policy a more recent sign-in would pass).',
      }),
    ),
    revocation: opt(str('The AccessRevocation (`session_revoked`).')),
    sessionId: opt(
      Nullable(
        Type.String(),
        'The revoked or expired session (`session_revoked`, `credential_expired` of a session, `fresh_sign_in_required`).',
      ),
    ),
    configGeneration: str(
      'The new config; with `credential_expired` and `fresh_sign_in_required`, the config in force.',
    ),
  };
}

const SessionFields = { provider: Provider, sub: Subject, email: Email, sessionId: SessionId };

/** Fields every auth event carries: the request that caused it. */
export const AUTH_EVENT_CONTEXT = {
  app: App,
  requestId: str('Id of the request that caused it (its request line has the same id).'),
  traceId: str('Trace id of that request, as in its request line.'),
  clientIp: str('Client address, as in the request line.'),
  privateEndpoint: opt(
    str('The private endpoint the connection came through, as in the request line; absent without one.'),
  ),
  userAgent: Nullable(Type.String(), 'User-Agent header.'),
};

/** Auth events: sign-in, sign-out, refresh, session ends and credential failures. */
export const AUTH_EVENTS = {
  login_succeeded: event('A user signed in; a session begins.', {
    ...SessionFields,
    providerSession: opt(str('The `sid` of the ID token, when the provider sends one.')),
    authenticatedAt: opt(
      str(
        'When the user authenticated at the provider (the `auth_time` of the ID token), RFC 3339; absent when the provider did not say. It may be well before this sign-in: a provider that still had a session signed the user in without asking anything.',
      ),
    ),
    amr: opt(
      Type.Array(Type.String(), {
        maxItems: 16,
        description:
          'How the user authenticated (the `amr` of the ID token: `pwd`, `mfa`, `hwk`, `otp`, ... as RFC 8176 lists them); absent when the provider did not say, or said it in another shape than at most 16 strings of at most 64 characters.',
      }),
    ),
    acr: opt(
      str(
        'The class of the sign-in (the `acr` of the ID token: the provider names a level such as `phr`, `urn:okta:loa:2fa:any` or `gold`), at most 256 characters; absent when the provider did not say. A step-up (`acrValues` policy) requires one of those it asked for.',
      ),
    ),
    groups: int('How many groups the user has (never their names).'),
    groupsLeftOut: opt(
      Type.Literal(true, {
        description:
          "The provider left the user's groups out of the ID token and named where to fetch them instead (Microsoft Entra ID does for an account in more than 200 groups), and they were not listed from Microsoft Graph (the provider has no `groupsOverage`, or the listing failed: a `groups_list_failed` event before this one says why): `groups` is 0 and no group rule matches this session. See authentication.md, Groups.",
      }),
    ),
    groupsListed: opt(
      int(
        'The groups Microsoft Graph listed for the user in place of those the ID token left out (`groupsOverage`); `groups` of them were kept, those the policies name or `identityHeaders.groupsFilter` passes.',
      ),
    ),
  }),
  groups_list_failed: event(
    'Listing the groups an ID token left out from Microsoft Graph (`groupsOverage`) failed: at sign-in the session has none (`login_succeeded` follows with `groupsLeftOut`), at a refresh it keeps those it had.',
    {
      provider: Provider,
      sub: Subject,
      when: StringEnum(['sign_in', 'refresh'] as const, { description: 'At sign-in or at a refresh.' }),
      reason: StringEnum(GROUPS_LIST_FAILURES, {
        description:
          '`no_access_token`: the token endpoint gave none; `graph_refused`: Graph answered 401 or 403 (the access token is not for Graph, or lacks User.Read: the scopes, or the admin consent); `graph_error`: another status; `graph_unreachable`: no connection, no answer within 10 s, or an answer over 1 MiB; `bad_answer`: not a membership list; `next_page_elsewhere`: a next page on another origin than `graphUrl`, not followed; `too_many_memberships`: more than 50 pages of 999.',
      }),
      detail: str("Graph's status and error code, or the error; never a token."),
    },
  ),
  login_failed: event('A sign-in failed; no session.', {
    reason: StringEnum(LOGIN_FAILURES, {
      description:
        '`state_missing`, `state_unknown` (no sign-in started in this browser, or newer sign-ins in it ended this one: the login cookies of a browser take at most half of `--max-header-size`), `state_reused`, `state_mismatch`, `browser_mismatch` (https only: the sign-in was started in another browser, whose login cookie was put into this one, as a sibling host can: a login CSRF attempt; no session), `login_expired` (over 10 minutes), `provider_unknown`, `provider_error` (the provider returned `error=`), `provider_unavailable` (connection refused or reset, a timeout, a 5xx answer; at sign-in start or at the code exchange), `provider_busy` (every turn of the calls to providers was taken and the sign-in got none within 5 s, or the line was full; the provider was not called; `detail`: `queue_timeout`, `queue_full`, or `caller_queue_full` when the calls of this client held its share of the line), `client_gone` (the browser closed its connection before the sign-in finished; `detail`: `waiting`, in line for a turn, the provider was not called, or `at_provider`, the call was aborted), `shutting_down` (the shutdown grace of the sidecar ended first; `detail` as for `client_gone`), `token_rejected` (the code exchange or ID token checks failed), `subject_invalid`, `session_too_large` (the session, even without its ID token, would take more cookies than fit in the request head, 3 of 3,800 bytes with the default `--max-header-size`: too many groups or claims; `detail`: the sealed size and the group count), `authentication_not_recent` (a `signedInWithin` policy asked for a recent sign-in, and the ID token did not say one within `max_age`), `acr_not_satisfied` (an `acrValues` policy asked for a stronger sign-in, and the `acr` of the ID token was none of the `acr_values` asked; `detail`: the acr it said and those asked).',
    }),
    provider: opt(str('The identity provider, when known.')),
    detail: opt(
      str('Provider error code, verification error, or where the call to the provider was; never a token.'),
    ),
  }),
  logout: event('A user signed out here; the session ends in every replica.', {
    ...SessionFields,
    everywhere: opt(
      Type.Literal(true, {
        description:
          "The user chose to sign out on every device: every session of this account (`sub` at `provider`) signed in until now ends in every replica of the application, not only this one (the sign-out page's second button).",
      }),
    ),
  }),
  logout_refused: event('A sign-out POST that did not come from this site; nothing ended.', {
    reason: Type.Literal('cross_site_request', { description: '`cross_site_request`.' }),
    origin: Nullable(Type.String(), 'The `Origin` header.'),
    fetchSite: Nullable(Type.String(), 'The `Sec-Fetch-Site` header.'),
  }),
  backchannel_logout: event(
    'The identity provider ended a session; every Gatehouse session of it ends in every replica.',
    {
      provider: Provider,
      providerSession: opt(str("The logout token's `sid`.")),
      sub: opt(str("The logout token's `sub`.")),
      jti: str("The logout token's id (each is accepted once)."),
    },
  ),
  backchannel_logout_refused: event('A logout token was refused; nothing ended.', {
    reason: StringEnum(LOGOUT_TOKEN_REFUSALS, {
      description:
        'Why. `busy`: the client address had 16 back-channel logouts in progress (or the sidecar 1,024); answered 503 with Retry-After before its body was read.',
    }),
    provider: opt(str('The identity provider, when known.')),
  }),
  frontchannel_logout: event(
    "The identity provider's front-channel logout named a provider session this sidecar had seen; every Gatehouse session of it ends in every replica.",
    {
      ...SessionFields,
      providerSession: str('The `sid` of the request (the provider session that ended).'),
      issuerSent: Type.Boolean({
        description: 'Whether the request named the issuer (`iss`); Microsoft Entra ID sends `sid` only.',
      }),
    },
  ),
  frontchannel_logout_refused: event('A front-channel logout ended nothing.', {
    reason: StringEnum(FRONTCHANNEL_LOGOUT_REFUSALS, {
      description:
        '`missing_sid`: no `sid` (or one over 255 characters); `unknown_issuer`: the `iss` is no provider of the application; `unknown_session`: no session of that provider session is open in this sidecar (it never served one, or it has ended or expired), answered 200 like an accepted one.',
    }),
    provider: opt(str('The identity provider `iss` names, when it names one.')),
  }),
  session_refreshed: event("The provider refreshed a session's tokens.", SessionFields),
  session_refresh_failed: event('A refresh failed.', {
    ...SessionFields,
    reason: StringEnum(
      ['refresh_rejected', 'provider_unavailable', 'provider_busy', 'shutting_down'] as const,
      {
        description:
          '`refresh_rejected`: the session ended (the provider refused the refresh, or the refreshed session no longer fits the cookies a browser sends back: `detail` says `session too large`); `provider_unavailable`: retried later; `provider_busy`: every turn of the calls to providers was taken; the provider was not called; retried later; `shutting_down`: the shutdown grace of the sidecar ended before the provider answered, and the call was aborted; the session is kept.',
      },
    ),
    detail: str("The provider's error; never a token."),
  }),
  session_expired: event('A session passed its idle timeout or absolute lifetime; it ended.', {
    reason: StringEnum(['idle_timeout', 'absolute_lifetime'] as const, { description: 'Which limit.' }),
    ...SessionFields,
  }),
  session_refused: event(
    'A session cookie of this application came with a request from a browser it was not signed in with (under a base path, where its cookie cannot have the __Host- prefix): planted from another host of the parent domain, or copied. It was not used, and deleted.',
    {
      ...SessionFields,
      reason: StringEnum(['other_browser'] as const, {
        description: 'The browser binding sealed in the session is not the browser\u2019s.',
      }),
    },
  ),
  session_revoked: event(
    "A revoked session's cookie was presented and refused (once per session and sidecar).",
    {
      ...SessionFields,
      revocation: str('The AccessRevocation.'),
      reason: Nullable(Type.String(), 'Its reason.'),
    },
  ),
  service_token_failed: event('A service token was refused.', {
    reason: StringEnum(SERVICE_TOKEN_FAILURES, { description: 'Why.' }),
    tokenId: Nullable(Type.String(), 'The token id claimed; never the secret.'),
  }),
  token_failed: event('A Kubernetes ServiceAccount token was refused.', {
    reason: StringEnum(SERVICE_ACCOUNT_FAILURES, { description: 'Why.' }),
    detail: str('The verification error; never the token.'),
  }),
};

/** The sidecar's other events: its life, its config, revocations reaching it, closed tunnels. */
export const SIDECAR_EVENTS = {
  sidecar_started: event('The sidecar serves.', {
    app: App,
    listen: str('Proxy address as bound, `host:port` (`[::]:4180` on every IPv6 and IPv4 address).'),
    adminListen: str('Admin address (health, metrics) as bound, `host:port`.'),
    pid: int('Process id.'),
    nodeOptions: Nullable(Type.String(), 'The Node.js options it runs with; null when they are missing.'),
  }),
  node_options_missing: event(
    'The sidecar was started without its Node.js options (V8 sizes the young generation from the memory limit, so collections cost more CPU per request or streaming holds more memory; V8 compiles can hold requests back under load).',
    { expected: str('The options it expects.'), hint: str('How to start it.') },
  ),
  egress_proxy: event(
    "The sidecar's calls to identity providers and Microsoft Graph (discovery, keys, token, userinfo, groups) go through the egress proxy of its environment (HTTPS_PROXY, HTTP_PROXY); the application and the operator are reached directly.",
    {
      proxies: Type.Array(Type.String(), {
        description: 'The proxies named, as origins (a user or password in the URL is never logged).',
      }),
      noProxy: Nullable(Type.String(), 'NO_PROXY: the hosts reached directly; null when unset.'),
    },
  ),
  listen_backlog_capped: event(
    "The kernel caps the sidecar's listen backlog below `--listen-backlog` (the pod's net.core.somaxconn): a burst of new clients past the cap waits for its handshakes to be retried, a second or more.",
    {
      requested: int('The backlog asked for (`--listen-backlog`).'),
      effective: int('The cap the kernel applies.'),
      hint: str('How to raise it.'),
    },
  ),
  application_port_open: event(
    "The application behind the sidecar listens beyond loopback as well (on every address, `0.0.0.0` or `::`, or the pod's own): any pod of the cluster that connects to the pod's address at that port reaches it past the sidecar, with any identity headers it likes. Read from the pod's listening sockets when the application is first seen listening, and every minute; written again when the addresses change.",
    {
      port: int('The port the sidecar reaches the application at (on 127.0.0.1).'),
      addresses: Type.Array(Type.String(), {
        description:
          'The addresses beyond loopback it listens on (`0.0.0.0`: every IPv4 address; `::`: every address).',
      }),
      hint: str('What to do.'),
    },
  ),
  forwarded_for_untrusted: event(
    'A request came with `X-Forwarded-For` from a peer not in `spec.trustedProxies`: the header was not read, so every request from that peer is judged and logged as coming from it (`ipRanges`, the fair shares of anonymous callers and of sign-ins, `clientIp` in the audit). Behind an ingress controller or a load balancer left out of the list, that is every client. Written once for each such peer, for at most 16 peers while the trusted proxies stay the same; `gatehouse_forwarded_for_untrusted_total` counts the requests.',
    {
      app: App,
      peerIp: str(
        'The peer that sent it (as the PROXY protocol header named it, from a load balancer of `spec.proxyProtocol`).',
      ),
      trustedProxies: int('How many addresses or ranges `spec.trustedProxies` lists.'),
      hint: str('What to do.'),
    },
  ),
  max_connections_capped: event(
    "The process's open-file limit is too low for `--max-connections` and the file descriptors the rest needs (upstream, admin port, operator stream): the sidecar holds fewer client connections, so that a crowd of clients cannot leave it without descriptors for its upstream.",
    {
      requested: int('The cap asked for (`--max-connections`).'),
      effective: int('The cap it holds to.'),
      openFileLimit: int("The process's open-file limit."),
      hint: str('How to raise it.'),
    },
  ),
  sidecar_stopping: event(
    'A signal asked the sidecar to stop: it answers /readyz 503 at once, goes on accepting connections for `delayMs`, then drains.',
    {
      signal: str('`SIGTERM` or `SIGINT`.'),
      graceMs: int(
        'How long from the signal to the exit at most: the delay, then the drain, then what is left is cut.',
      ),
      delayMs: int(
        'How long it goes on accepting new connections first (`--shutdown-delay`), for clients that learn late that the pod is going.',
      ),
    },
  ),
  sidecar_failed: event(
    'An error that no part of the sidecar handled ends it: a defect (report it with this line). It stops accepting connections, gives up the session ends not through yet (each with its `session_end_unreported` line), writes the log lines it holds (for at most 1 s, so that every request it answered has its line), then exits 70 and its container restarts.',
    DefectFields,
  ),
  sidecar_stopped: event(
    'The sidecar stopped; what the drain had to cut when its time ran out (all 0 after a clean drain).',
    {
      signal: str('The signal.'),
      requestsCut: int('Requests still in flight.'),
      tunnelsCut: int('WebSocket tunnels still open.'),
      connectionsCut: int('Client connections still open.'),
      upstreamQueued: int('Requests still waiting for an upstream connection.'),
    },
  ),
  config_loaded: event('A configuration now serves.', {
    app: App,
    generation: str('Its hash (the request lines carry it as `configGeneration`).'),
    source: StringEnum(['file', 'operator'] as const, { description: '`file` or `operator`.' }),
    policies: int('Enforced policies.'),
    auditPolicies: int('Audit-mode policies.'),
    identityProviders: Type.Array(Type.String(), { description: 'Identity provider names.' }),
    serviceTokens: int('How many service tokens are accepted.'),
    serviceAccounts: Type.Boolean({ description: 'Whether ServiceAccount tokens are accepted.' }),
    upstream: str('The origin requests are forwarded to, as `--upstream` or `--upstream-address` left it.'),
    upstreamTls: Nullable(
      Type.Object(
        {
          serverName: str(
            'The name the certificate must carry (`spec.upstream.tls.serverName`, else the host of `url`).',
          ),
          ca: StringEnum(['public', 'secret'] as const, {
            description:
              '`public`: the certificate authorities Node.js ships; `secret`: only the certificates of `spec.upstream.tls.caSecretRef`.',
          }),
          clientCertificate: Nullable(
            Type.Object(
              {
                subject: str('Its subject (`CN=wiki-gatehouse`, one attribute per line joined by `, `).'),
                notAfter: str('When it expires (RFC 3339): the Secret must be renewed before.'),
              },
              { additionalProperties: false },
            ),
            'The client certificate presented to an upstream that asks for one (`spec.upstream.tls.clientCertificateSecretRef`); null without.',
          ),
        },
        { additionalProperties: false },
      ),
      'How an https upstream is checked; null for http.',
    ),
  }),
  config_rejected: event('A configuration was refused; the last good one keeps serving.', {
    app: AppOrNull,
    keptGeneration: Nullable(Type.String(), 'The generation still serving.'),
    errors: Type.Array(Type.String(), { description: 'Each `path: message`.' }),
  }),
  config_waiting: event(
    'The operator has no config for this sidecar to serve (cluster mode): why, and what to do. Logged when the stream opens without one and whenever the reason changes. Before its first config the sidecar is not ready; after it (the AccessApplication was deleted) it keeps serving the config it has.',
    {
      app: AppOrNull,
      reason: str(
        '`ApplicationNotFound` (no AccessApplication of that name in the namespace of the pod), or the reason of the AccessApplication Ready condition: `InvalidSpec`, `ProviderSecretMissing`, `KeysPending`, `InvalidConfig`, ...',
      ),
      message: str('What the operator says of it: what is missing and where.'),
      serving: Type.Boolean({ description: 'true when the sidecar serves a config it had before.' }),
    },
  ),
  config_stream_connected: event("The operator's config stream is open (cluster mode).", {
    app: AppOrNull,
  }),
  config_stream_disconnected: event(
    'The config stream broke or was refused; the last good config keeps serving.',
    {
      app: AppOrNull,
      reason: str('Why, as the operator or the connection said.'),
      retryInMs: int('When it reconnects.'),
    },
  ),
  revocation_applied: event(
    'A revocation reached this sidecar (written once by each sidecar, and again when it is edited under its name: its cut-off moved, another user; see [revocation.md](revocation.md)).',
    {
      app: App,
      revocation: str('The AccessRevocation.'),
      ...RevocationTarget,
      revokedBefore: str('Sessions that began before this (RFC 3339) end.'),
      reason: Nullable(Type.String(), 'Its reason.'),
      websocketsClosed: int('Open tunnels of those sessions it closed.'),
      responsesClosed: int(
        'Requests of those sessions in progress it ended (streams of events, long polls, downloads).',
      ),
    },
  ),
  revocation_skipped: event(
    'An AccessRevocation file that is not valid was skipped (standalone); the others apply.',
    { path: str('The file.'), error: str('What is wrong with it.') },
  ),
  session_end_reported: event(
    'A sign-out or a logout from the provider was handed to the operator (or written to `--revocations-dir`), which carries it to every other sidecar of the application; after a `session_end_delayed`, once a later round got through.',
    {
      app: AppOrNull,
      ...RevocationTarget,
      attempts: int('Tries it took in all (1 when the first got through).'),
      errors: Type.Array(Type.String(), {
        description:
          'What each failed try met, in order (the first 10 and the last 10 when there were more than 20).',
      }),
      durationMs: int('From the end here to the operator’s answer (or the file written).'),
    },
  ),
  session_end_delayed: event(
    'A sign-out or a logout from the provider could not be handed to the operator (or written to `--revocations-dir`) in its first round of tries; it holds in this sidecar only until a later round gets through (`session_end_reported`). Rounds follow after waits of up to 2 s, doubling to up to 30 s, until `retryUntil`; when the sidecar stops, one at once and then one within a second of each failure until its grace is up (`session_end_unreported`).',
    {
      app: AppOrNull,
      ...RevocationTarget,
      error: str('The last error.'),
      retryUntil: str('When every session the end covers has expired (RFC 3339): no round after it.'),
    },
  ),
  session_end_unreported: event(
    'A sign-out or a logout from the provider will not be tried again: it held in this sidecar only.',
    {
      app: AppOrNull,
      ...RevocationTarget,
      reason: StringEnum(SESSION_END_GIVEN_UP, {
        description:
          '`refused`: the operator refused it (a 4xx other than 429; another try would not get through), or the application has 8,000 session ends in force; `account_full`: the account whose session it was has 50 session ends in force for the application already (a user or a monitor signing in and out in a loop: its further ends hold where they were made until some expire, and everyone else\u2019s go on); `sessions_expired`: every session it covers expired before a round got through, so nothing is left to end; `too_many_delayed`: 1,000 ends were waiting for a round already; `shutting_down`: the sidecar stopped, and its grace ran out before a round got through (a round in progress included).',
      }),
      error: str('The last error.'),
    },
  ),
  session_ends_restored: event(
    'At start, the sign-outs and logouts from the provider an earlier run of this container kept in `--session-ends-file` and that may still cover a live session: each is enforced again, and those not through to the operator (or `--revocations-dir`) yet are sent again (`session_end_reported`, or `session_end_delayed`).',
    {
      app: App,
      path: str('The file.'),
      enforced: int('Ends enforced again.'),
      reported: int('Of those, the ends sent again: not through when the earlier run stopped.'),
      skippedLines: int(
        'Lines that were not an end (a line cut short when the process was killed while writing it); 0 normally.',
      ),
    },
  ),
  session_ends_file_failed: event(
    'A sign-out or a logout from the provider could not be written to `--session-ends-file` (a full or read-only disk): it holds in this run, and is carried on as usual, but a restart of the container would forget it.',
    { path: str('The file.'), error: str('The error.') },
  ),
  replica_report_failed: event(
    "A standalone sidecar could not write its report into the revocations directory's `.replicas` folder (a directory mounted read-only, a full disk, permissions): `gatehouse revoke --revocations-dir` cannot confirm its revocations from this replica (it names the replica among those not confirmed once its last report is stale, or not at all when it never wrote one). Revocations still apply here. Logged once until a report is written again.",
    { path: str('The folder.'), error: str('The error.') },
  ),
  websocket_closed: event(
    "An open tunnel was closed: a new config revoked its session or its policies deny it now, or the credential that opened it ended; the tunnel's request line follows with `error` set to the reason.",
    liveClosureFields('The upgrade request.', 'that opened it'),
  ),
  request_in_progress: event(
    'A request still in progress (a stream of events, a long poll, a long download or upload, a WebSocket tunnel), written every `--in-progress-interval` (60 s by default) for as long as it lasts: its request line is written only at its end, so without these a request open for hours is in no log until then, and in none at all when the sidecar is killed before it ends. The fields are those of its request line so far; `gatehouse audit` shows the request as in progress until its request line comes. None are written while the log is congested (stdout not read: they would only wait in memory); the first sweep after it drains writes them.',
    {
      app: App,
      requestId: RequestFields.requestId,
      traceId: RequestFields.traceId,
      seq: RequestFields.seq,
      host: RequestFields.host,
      method: RequestFields.method,
      uri: RequestFields.uri,
      status: Type.Integer({
        description:
          'Status sent to the client so far: `101` for a tunnel; 0 while the application has not answered.',
      }),
      start: RequestFields.start,
      elapsedMs: int('Milliseconds since its start.'),
      bytesIn: int('Bytes received from the client so far, headers included.'),
      bytesOut: int('Bytes sent to the client so far, headers included.'),
      clientIp: RequestFields.clientIp,
      privateEndpoint: RequestFields.privateEndpoint,
      identity: Nullable(LoggedIdentity, 'The authenticated caller; null when anonymous.'),
      sessionId: RequestFields.sessionId,
      authMethod: RequestFields.authMethod,
      upgrade: RequestFields.upgrade,
    },
  ),
  response_closed: event(
    'A request in progress (a stream of events, a long poll, a long download) was ended: a new config revoked its session or its policies deny it now, or its credential ended. Answered `401` (`403` for `policy_changed`) when the application had not answered yet, else its connection was cut mid-body; its request line follows with `outcome: denied` and `error` set to the reason.',
    liveClosureFields('The request.', 'of the request'),
  ),
};

export type AuthEventType = keyof typeof AUTH_EVENTS;
export type SidecarEventType = keyof typeof SIDECAR_EVENTS;
export type EventType = AuthEventType | SidecarEventType;

/** The fields an auth event's caller gives (the request context is added by the writer). */
export type AuthEventFields<T extends AuthEventType> = Fields<(typeof AUTH_EVENTS)[T]['fields']>;
/** The fields of a sidecar event. */
export type SidecarEventFields<T extends SidecarEventType> = Fields<(typeof SIDECAR_EVENTS)[T]['fields']>;
/** The request context every auth event line carries (the writer adds it). */
export type AuthEventContext = Fields<typeof AUTH_EVENT_CONTEXT>;

/** The whole line of each event, `type` and `time` included: what the tests check lines against. */
export const EVENT_LINES: Readonly<Record<EventType, TObject>> = Object.fromEntries([
  ...Object.entries(AUTH_EVENTS).map(([type, spec]) => [
    type,
    lineSchema(type, { ...AUTH_EVENT_CONTEXT, ...spec.fields }, spec.description),
  ]),
  ...Object.entries(SIDECAR_EVENTS).map(([type, spec]) => [
    type,
    lineSchema(type, spec.fields, spec.description),
  ]),
]) as Record<EventType, TObject>;
