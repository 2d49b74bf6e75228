import type {
  AUTH_EVENT_CONTEXT,
  AuthEventFields,
  AuthEventType as SidecarAuthEventType,
  SidecarEventFields,
} from '../../contract/log-events.ts';
import type { CloudflareRequestLine, NativeRequestLine } from '../../contract/log-line.ts';
import { parseIsoTime } from '../../lib/iso-time.ts';

/**
 * Gatehouse log lines as the audit reads them: one normalised record per line, whichever field
 * profile (native or Cloudflare) wrote it. Lines that are not Gatehouse lines are skipped.
 */

export interface Identity {
  readonly kind: string | null;
  readonly sub: string | null;
  readonly email: string | null;
  readonly idp: string | null;
}

export interface Decision {
  readonly action: string | null;
  readonly policy: string | null;
  readonly rule: string | null;
  readonly reason: string | null;
}

/** One request line. Times are epoch milliseconds. */
export interface RequestRecord {
  readonly kind: 'request';
  readonly start: number;
  readonly end: number;
  readonly requestId: string;
  /** The sidecar process's request sequence number: orders requests that start in the same millisecond. */
  readonly seq?: number;
  /** W3C trace id (lines written before it was logged have none). */
  readonly traceId?: string;
  readonly app: string;
  readonly host: string;
  readonly method: string;
  readonly uri: string;
  readonly status: number;
  readonly outcome: string | null;
  /** The stable error code of a request that failed; bytes each way; its duration; how the caller authenticated. */
  readonly error?: string | null;
  /** Why the error happened, where its code has several causes (the line's errorCause). */
  readonly errorCause?: string | null;
  readonly bytesIn?: number | null;
  readonly bytesOut?: number | null;
  readonly durationMs?: number | null;
  readonly authMethod?: string | null;
  readonly clientIp: string | null;
  /** The private endpoint the connection came through (`aws:vpce-…`), when the line names one. */
  readonly privateEndpoint?: string | null;
  readonly userAgent: string | null;
  readonly identity: Identity | null;
  readonly sessionId: string | null;
  /** A session cookie presented but refused because its session had ended: the request is tied to it. */
  readonly endedSession?: EndedSessionRef | null;
  readonly decision: Decision | null;
  /**
   * Read from a `request_in_progress` line, not a request line: the request as it stood then
   * (`end` is that line's time, `outcome` is `in_progress`). Its request line, when the logs have
   * it, replaces it.
   */
  readonly inProgress?: true;
}

/** The ended session a refused request presented. */
export interface EndedSessionRef {
  readonly sessionId: string;
  readonly reason: string | null;
  readonly email: string | null;
  readonly sub: string | null;
  readonly idp: string | null;
}

/**
 * Events that end the sessions they name (one session, a provider session, a user or a subject)
 * and how such an end went on its way to the other sidecars: a sign-out elsewhere or a
 * logout from the provider names no user, so for a user or subject these lines are read whatever they
 * name, and the sessions they join are the user's own.
 */
export const ENDS_BY_NAME = [
  'revocation_applied',
  'session_end_unreported',
  'session_end_delayed',
  'session_end_reported',
] as const;
export type EndByNameType = (typeof ENDS_BY_NAME)[number];

/** The sidecar's auth events that begin, continue or end a session, and the ends by name. */
export type AuthEventType =
  | Exclude<SidecarAuthEventType, 'service_token_failed' | 'token_failed'>
  | EndByNameType;

export interface AuthRecord {
  readonly kind: 'auth';
  readonly type: AuthEventType;
  readonly time: number;
  readonly app: string;
  readonly requestId: string | null;
  readonly sessionId: string | null;
  readonly email: string | null;
  readonly sub: string | null;
  readonly provider: string | null;
  readonly clientIp: string | null;
  /** The private endpoint the connection came through (`aws:vpce-…`), when the line names one. */
  readonly privateEndpoint?: string | null;
  readonly userAgent: string | null;
  /** login_failed, session_expired, session_refresh_failed: why; revocation: its reason. */
  readonly reason: string | null;
  /** session_revoked, revocation_applied: the AccessRevocation. */
  readonly revocation: string | null;
  /** revocation_applied: the cut-off (epoch ms). */
  readonly revokedBefore: number | null;
  /** revocation_applied of one session (a sign-out elsewhere): its id. */
  readonly session?: string | null;
  /** login_succeeded: the provider's session id; revocation_applied of a logout from the provider: the one it ends. */
  readonly providerSession?: string | null;
  /** session_end_unreported, session_end_delayed: the last error of its rounds. */
  readonly error?: string | null;
  /** login_succeeded: how the sign-in authenticated the user, as far as the line says. */
  readonly signIn?: SignInStrength;
}

/** How a sign-in authenticated the user (its login_succeeded event): each null when the line does not say. */
export interface SignInStrength {
  /** When the user authenticated at the provider (epoch ms). */
  readonly authenticatedAt: number | null;
  /** The methods (`amr`): `pwd`, `mfa`, `hwk`, ... */
  readonly amr: readonly string[] | null;
  /** The class of the sign-in (`acr`). */
  readonly acr: string | null;
}

export type AuditRecord = RequestRecord | AuthRecord;

const END_BY_NAME_TYPES: ReadonlySet<string> = new Set(ENDS_BY_NAME);

/** Whether a record is one of the ends by name (ENDS_BY_NAME). */
export const isEndByName = (record: AuditRecord): record is AuthRecord & { readonly type: EndByNameType } =>
  record.kind === 'auth' && END_BY_NAME_TYPES.has(record.type);

const AUTH_TYPES: ReadonlySet<string> = new Set<AuthEventType>([
  'login_succeeded',
  'login_failed',
  'logout',
  'session_refreshed',
  'session_refresh_failed',
  'session_expired',
  'session_revoked',
  'session_refused',
  'revocation_applied',
  'session_end_delayed',
  'session_end_reported',
  'session_end_unreported',
]);

type Json = Record<string, unknown>;

/**
 * A request line as read: the fields of its schema (contract/log-line.ts), each still unknown
 * until checked here. A field the schema does not have is a compile error, so the audit cannot
 * drift from what sidecars write.
 */
type LineFields<T> = { readonly [K in keyof T]?: unknown };

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const time = (v: unknown): number => (typeof v === 'string' ? parseIsoTime(v) : Number.NaN);

/**
 * The client of a request as the audit shows it: its address, and the private endpoint it came
 * through when there was one (`10.0.0.7 via aws:vpce-0a1b`): behind private endpoints two
 * consumers may have the same addresses, and only the endpoint tells them apart.
 */
export function clientText(r: Pick<RequestRecord, 'clientIp' | 'privateEndpoint'>): string | null {
  if (r.clientIp === null) return null;
  return r.privateEndpoint ? `${r.clientIp} via ${r.privateEndpoint}` : r.clientIp;
}

function identity(v: unknown): Identity | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Json;
  return { kind: str(o.kind), sub: str(o.sub), email: str(o.email), idp: str(o.idp) };
}

function endedSession(v: unknown): EndedSessionRef | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Json;
  const sessionId = str(o.sessionId);
  if (sessionId === null) return null;
  return { sessionId, reason: str(o.reason), email: str(o.email), sub: str(o.sub), idp: str(o.idp) };
}

function decision(v: unknown): Decision | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Json;
  return { action: str(o.action), policy: str(o.policy), rule: str(o.rule), reason: str(o.reason) };
}

function nativeRequest(o: LineFields<NativeRequestLine>): RequestRecord | undefined {
  const start = time(o.start);
  const end = time(o.end ?? o.time);
  if (Number.isNaN(start) || typeof o.requestId !== 'string' || typeof o.app !== 'string') return undefined;
  return {
    kind: 'request',
    start,
    end: Number.isNaN(end) ? start : end,
    requestId: o.requestId,
    ...(typeof o.seq === 'number' ? { seq: o.seq } : {}),
    ...(typeof o.traceId === 'string' ? { traceId: o.traceId } : {}),
    app: o.app,
    host: str(o.host) ?? '',
    method: str(o.method) ?? '',
    uri: str(o.uri) ?? '',
    status: typeof o.status === 'number' ? o.status : 0,
    outcome: str(o.outcome),
    error: str(o.error),
    errorCause: str(o.errorCause),
    bytesIn: num(o.bytesIn),
    bytesOut: num(o.bytesOut),
    durationMs: num(o.durationMs) ?? (Number.isNaN(end) ? null : end - start),
    authMethod: str(o.authMethod),
    clientIp: str(o.clientIp),
    privateEndpoint: str(o.privateEndpoint),
    userAgent: str(o.userAgent),
    identity: identity(o.identity),
    sessionId: str(o.sessionId),
    endedSession: endedSession(o.endedSession),
    decision: decision(o.decision),
  };
}

function cloudflareRequest(o: LineFields<CloudflareRequestLine>): RequestRecord | undefined {
  const start = time(o.EdgeStartTimestamp);
  const end = time(o.EdgeEndTimestamp);
  if (Number.isNaN(start) || typeof o.RayID !== 'string' || typeof o.GatehouseApp !== 'string')
    return undefined;
  return {
    kind: 'request',
    start,
    end: Number.isNaN(end) ? start : end,
    requestId: o.RayID,
    ...(typeof o.GatehouseSeq === 'number' ? { seq: o.GatehouseSeq } : {}),
    ...(typeof o.GatehouseTraceID === 'string' ? { traceId: o.GatehouseTraceID } : {}),
    app: o.GatehouseApp,
    host: str(o.ClientRequestHost) ?? '',
    method: str(o.ClientRequestMethod) ?? '',
    uri: str(o.ClientRequestURI) ?? '',
    status: typeof o.EdgeResponseStatus === 'number' ? o.EdgeResponseStatus : 0,
    outcome: str(o.GatehouseOutcome),
    error: str(o.GatehouseError),
    errorCause: str(o.GatehouseErrorCause),
    bytesIn: num(o.ClientRequestBytes),
    bytesOut: num(o.EdgeResponseBytes),
    durationMs: Number.isNaN(end - start) ? null : end - start,
    authMethod: str(o.GatehouseAuthMethod),
    clientIp: str(o.ClientIP),
    privateEndpoint: str(o.GatehousePrivateEndpoint),
    userAgent: str(o.ClientRequestUserAgent) || null,
    identity: identity(o.GatehouseIdentity),
    sessionId: str(o.GatehouseSessionID),
    endedSession: endedSession(o.GatehouseEndedSession),
    decision: decision(o.GatehouseDecision),
  };
}

/**
 * A `request_in_progress` line: the request so far, until its request line replaces it. Its
 * fields are its request line's so far, so it is read as one ending at the line's time.
 */
function requestInProgress(
  o: { readonly [K in keyof InProgressFields | 'time']?: unknown },
): RequestRecord | undefined {
  if (Number.isNaN(time(o.time))) return undefined;
  const read = nativeRequest({ ...o, end: o.time, durationMs: o.elapsedMs, outcome: 'in_progress' });
  return read && { ...read, inProgress: true };
}

type KeysOf<U> = U extends unknown ? keyof U : never;
type InProgressFields = SidecarEventFields<'request_in_progress'>;
type FieldsOfEach<T extends SidecarAuthEventType> = T extends unknown ? AuthEventFields<T> : never;
type SidecarFieldsOfEach<T extends EndByNameType> = T extends unknown ? SidecarEventFields<T> : never;

/**
 * An auth event line as read: every field of the events the audit uses (contract/log-events.ts),
 * each still unknown until checked here.
 */
type AuthEventLine = {
  readonly [K in
    | 'time'
    | keyof typeof AUTH_EVENT_CONTEXT
    | KeysOf<FieldsOfEach<Exclude<AuthEventType, EndByNameType>>>
    | KeysOf<SidecarFieldsOfEach<EndByNameType>>]?: unknown;
};

function authEvent(o: AuthEventLine, type: AuthEventType): AuthRecord | undefined {
  const at = time(o.time);
  if (Number.isNaN(at) || typeof o.app !== 'string') return undefined;
  const revokedBefore = time(o.revokedBefore);
  return {
    kind: 'auth',
    type,
    time: at,
    app: o.app,
    requestId: str(o.requestId),
    sessionId: str(o.sessionId),
    email: str(o.email) ?? str(o.user),
    sub: str(o.sub) ?? str(o.subject),
    provider: str(o.provider),
    clientIp: str(o.clientIp),
    privateEndpoint: str(o.privateEndpoint),
    userAgent: str(o.userAgent),
    reason: str(o.reason),
    revocation: str(o.revocation),
    revokedBefore: Number.isNaN(revokedBefore) ? null : revokedBefore,
    session: str(o.session),
    providerSession: str(o.providerSession),
    ...(type === 'session_end_unreported' || type === 'session_end_delayed' ? { error: str(o.error) } : {}),
    ...(type === 'login_succeeded' ? { signIn: signInStrength(o) } : {}),
  };
}

function signInStrength(o: AuthEventLine): SignInStrength {
  const at = time(o.authenticatedAt);
  const amr =
    Array.isArray(o.amr) && o.amr.length <= 16 && o.amr.every((m) => typeof m === 'string') ? o.amr : null;
  return { authenticatedAt: Number.isNaN(at) ? null : at, amr, acr: str(o.acr) };
}

/** The record of one parsed line; undefined for lines the audit does not use (other events, foreign JSON). */
export function toAuditRecord(value: unknown): AuditRecord | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o = value as Json;
  if (o.type === 'request') return nativeRequest(o);
  if (o.GatehouseType === 'request') return cloudflareRequest(o);
  if (o.type === 'request_in_progress') return requestInProgress(o);
  if (typeof o.type === 'string' && AUTH_TYPES.has(o.type)) return authEvent(o, o.type as AuthEventType);
  return unwrapped(o);
}

/**
 * Fields in which log shippers and stores keep the line as text: Splunk (`_raw`; a JSON export
 * wraps each event in `result`), Fluent Bit, Fluentd and Docker's json-file (`log`), Vector
 * (`message`), Loki's JSON (`line`), an OpenTelemetry export (`body`), Cloud Logging's entry of a
 * line its agent did not read as JSON (`textPayload`), Azure Monitor's ContainerLog table
 * (`LogEntry`) and ContainerLogV2 table (`LogMessage`, when it holds the text).
 */
const LINE_FIELDS = [
  '_raw',
  'log',
  'message',
  'line',
  'body',
  'textPayload',
  'LogEntry',
  'LogMessage',
] as const;

/**
 * Fields in which log stores keep the line's fields as an object: Elasticsearch hits (`_source`),
 * Cloud Logging entries (`jsonPayload`), Azure Monitor's ContainerLogV2 table (`LogMessage`, an
 * object for a JSON line, else its text).
 */
const OBJECT_FIELDS = ['_source', 'jsonPayload', 'LogMessage'] as const;

/** The record of a Gatehouse line inside another program's record (an export of a log store). */
function unwrapped(o: Json): AuditRecord | undefined {
  for (const field of OBJECT_FIELDS) {
    const fields = o[field];
    if (typeof fields === 'object' && fields !== null) return toAuditRecord(withEntryTime(fields as Json, o));
  }
  const result = o.result as Json | undefined;
  if (typeof result === 'object' && result !== null && typeof result._raw === 'string')
    return parseAuditLine(result._raw);
  for (const field of LINE_FIELDS) {
    const text = o[field];
    if (typeof text === 'string') return parseAuditLine(text);
  }
  return undefined;
}

/**
 * The line's fields with its `time` again where the store kept it on the entry only: Cloud
 * Logging reads a JSON line's `time` as its entry's `timestamp`, and every event needs its time.
 */
function withEntryTime(fields: Json, entry: Json): Json {
  if (fields.time !== undefined || typeof entry.timestamp !== 'string' || typeof fields.type !== 'string')
    return fields;
  return { ...fields, time: entry.timestamp };
}

const LEADING_NULS = /^\0+/;

/**
 * What may stand before the JSON of a line, in this order, each optional: `kubectl logs --prefix`'s
 * `[pod/<pod>/<container>] `, then a time: a container runtime (CRI) log file's
 * `<RFC 3339 time> stdout F ` (/var/log/containers), or a time alone (`<RFC 3339 time> `:
 * `kubectl logs --timestamps`, and a CloudWatch Logs export to S3, write each line so).
 */
const LINE_PREFIX = /^(?:\[pod\/[^\]\s]+\] )?(?:\d{4}-\d\d-\d\dT\S+ (?:(?:stdout|stderr) F )?)?/;

/** A line without what may stand before its JSON (LINE_PREFIX); the line itself when nothing does. */
export function withoutLinePrefix(line: string): string {
  const prefix = LINE_PREFIX.exec(line);
  return prefix === null || prefix[0].length === 0 ? line : line.slice(prefix[0].length);
}

/**
 * The record of one raw line: a Gatehouse JSON line, bare or after a prefix (LINE_PREFIX);
 * undefined when it is not JSON or not a Gatehouse line the audit uses.
 */
export function parseAuditLine(line: string): AuditRecord | undefined {
  let text = line;
  // NUL bytes before a line: the hole a file truncated under its writer leaves (logrotate's
  // copytruncate, while the sidecar's output goes on at its offset); the line after it is whole.
  if (text.charCodeAt(0) === 0) text = text.replace(LEADING_NULS, '');
  if (text.charCodeAt(0) !== 0x7b /* { */) {
    text = withoutLinePrefix(text);
    if (text.charCodeAt(0) !== 0x7b) return undefined;
  }
  if (text.length < 2) return undefined;
  try {
    return toAuditRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The email a record is about (the signed-in user of a request, or the user of an auth event). */
export function recordEmail(record: AuditRecord): string | null {
  return record.kind === 'request'
    ? (record.identity?.email ?? record.endedSession?.email ?? null)
    : record.email;
}

/** The subject a record is about (the signed-in caller of a request, or the subject of an auth event). */
export function recordSubject(record: AuditRecord): string | null {
  return record.kind === 'request' ? (record.identity?.sub ?? record.endedSession?.sub ?? null) : record.sub;
}

/** The time a record sorts by: a request's start, an event's time. */
export function recordTime(record: AuditRecord): number {
  return record.kind === 'request' ? record.start : record.time;
}
