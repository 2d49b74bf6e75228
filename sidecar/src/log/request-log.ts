import type { CloudflareRequestLine, NativeRequestLine } from '../../../contract/log-line.ts';
import { isoTime } from '../../../lib/iso-time.ts';
import { capField, redactQuery } from '../../../lib/log/sanitize.ts';
import { newTraceparent } from '../http/trace-context.ts';
import { headerText } from '../http/utf8-field.ts';
import type { RequestScope } from '../request-scope.ts';

const MAX_METHOD = 32;
const MAX_HEADER_VALUE = 1024;
const USER_AGENT = 'user-agent';

/** `HTTP/<version>`: the two versions a server sees, without a string built per request. */
function protocolOf(httpVersion: string): string {
  if (httpVersion === '1.1') return 'HTTP/1.1';
  if (httpVersion === '1.0') return 'HTTP/1.0';
  return `HTTP/${httpVersion}`;
}

/** The URI as logged: canonical path plus the query with secret parameters redacted, capped. */
export function loggedUri(scope: RequestScope): string {
  if (scope.path === '') return capField(scope.req.url ?? '');
  const query = redactQuery(scope.query, scope.state.redactedQueryParameters);
  return capField(query ? `${scope.path}?${query}` : scope.path);
}

/** The logged header values of a request: its User-Agent and the headers the config names. */
interface HeaderValues {
  userAgent: string | null;
  logged: Record<string, string> | null;
}

function headerValues(scope: RequestScope): HeaderValues {
  const raw = scope.req.rawHeaders;
  const wanted = scope.state.loggedRequestHeaders;
  let userAgent: string | null = null;
  let logged: Record<string, string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const rawName = raw[i] as string;
    // Only a name as long as `user-agent` can be it; the others are lower-cased only when the
    // config logs headers.
    if (rawName.length !== USER_AGENT.length && wanted.size === 0) continue;
    const name = rawName.toLowerCase();
    if (name === USER_AGENT && userAgent === null)
      userAgent = capField(headerText(raw[i + 1] as string), MAX_HEADER_VALUE);
    if (wanted.size > 0 && wanted.has(name)) {
      logged ??= {};
      const prev = logged[name];
      const value = capField(headerText(raw[i + 1] as string), MAX_HEADER_VALUE);
      logged[name] = prev === undefined ? value : `${prev}, ${value}`;
    }
  }
  return { userAgent, logged };
}

/** The identity fields a log line carries (an allowlist: never claims or tokens). */
export function loggedIdentity(scope: RequestScope): NativeRequestLine['identity'] {
  const identity = scope.identity;
  if (identity === null) return null;
  return {
    kind: identity.kind,
    sub: capField(identity.sub, 256),
    email: identity.email === null ? null : capField(identity.email, 320),
    idp: identity.idp,
  };
}

/** The request's trace id; one is made for a request refused before it had one (it was sent nowhere). */
export function loggedTraceId(scope: RequestScope): string {
  if (scope.traceId === '') scope.traceId = newTraceparent().traceId;
  return scope.traceId;
}

/** Log fields common to both profiles, computed once per request. */
export interface RequestTimes {
  readonly endedAt: number;
  readonly durationMs: number;
}

/** The native request line: every field of the log reference, secrets never included. */
export function nativeRequestRecord(scope: RequestScope, t: RequestTimes): NativeRequestLine {
  const { userAgent, logged } = headerValues(scope);
  const end = isoTime(t.endedAt);
  return {
    type: 'request',
    time: end,
    requestId: scope.requestId,
    traceId: loggedTraceId(scope),
    seq: scope.seq,
    app: scope.state.appLabel,
    host: capField(scope.host, 256),
    method: capField(scope.req.method ?? '', MAX_METHOD),
    uri: loggedUri(scope),
    protocol: protocolOf(scope.req.httpVersion),
    status: scope.status,
    outcome: scope.outcome,
    error: scope.errorCode,
    errorCause: scope.errorCause,
    bytesIn: scope.bytesIn,
    bytesOut: scope.bytesOut,
    start: isoTime(scope.startedAt),
    end,
    durationMs: Math.round(t.durationMs * 1000) / 1000,
    upstreamMs: scope.upstreamMs === null ? null : Math.round(scope.upstreamMs * 1000) / 1000,
    clientIp: scope.clientIp,
    peerIp: scope.peerIp,
    // Absent (left out by the writers) unless the connection came through a private endpoint.
    privateEndpoint: scope.privateEndpoint ?? undefined,
    userAgent,
    identity: loggedIdentity(scope),
    sessionId: scope.sessionId,
    endedSession: scope.endedSession,
    authMethod: scope.authMethod,
    decision: scope.decision,
    auditDecision: scope.auditDecision,
    upgrade: scope.kind === 'upgrade',
    configGeneration: scope.state.config.generation,
    requestHeaders: logged,
  };
}

/** The Cloudflare-compatible request line (Cloudflare HTTP request field names, Gatehouse extras prefixed). */
export function cloudflareRequestRecord(scope: RequestScope, t: RequestTimes): CloudflareRequestLine {
  const { userAgent, logged } = headerValues(scope);
  return {
    ClientIP: scope.clientIp,
    ClientRequestHost: capField(scope.host, 256),
    ClientRequestMethod: capField(scope.req.method ?? '', MAX_METHOD),
    ClientRequestURI: loggedUri(scope),
    ClientRequestUserAgent: userAgent ?? '',
    ClientRequestProtocol: protocolOf(scope.req.httpVersion),
    ClientRequestBytes: scope.bytesIn,
    EdgeStartTimestamp: isoTime(scope.startedAt),
    EdgeEndTimestamp: isoTime(t.endedAt),
    EdgeResponseBytes: scope.bytesOut,
    EdgeResponseStatus: scope.status,
    OriginResponseDurationMs: scope.upstreamMs === null ? null : Math.round(scope.upstreamMs),
    RayID: scope.requestId,
    GatehouseSeq: scope.seq,
    GatehouseTraceID: loggedTraceId(scope),
    RequestHeaders: logged ?? {},
    GatehouseType: 'request',
    GatehouseApp: scope.state.appLabel,
    GatehouseOutcome: scope.outcome,
    GatehouseError: scope.errorCode,
    GatehouseErrorCause: scope.errorCause,
    GatehouseIdentity: loggedIdentity(scope),
    GatehouseSessionID: scope.sessionId,
    GatehouseEndedSession: scope.endedSession,
    GatehouseAuthMethod: scope.authMethod,
    GatehouseDecision: scope.decision,
    GatehouseAuditDecision: scope.auditDecision,
    GatehouseConfigGeneration: scope.state.config.generation,
    GatehousePrivateEndpoint: scope.privateEndpoint ?? undefined,
  };
}
