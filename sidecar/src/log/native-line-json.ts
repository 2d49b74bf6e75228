import type { NativeRequestLine } from '../../../contract/log-line.ts';
import type { LineWriter } from '../../../lib/log/line-writer.ts';
import { toJsonLine } from '../../../lib/log/sanitize.ts';

/**
 * The native request line as JSON, written field by field in the schema's order
 * (contract/log-line.ts) straight into the log's staging bytes: the same bytes as
 * `toJsonLine(record)` in UTF-8 (test/unit/native-line-json.test.ts compares both on made-up
 * records), without JSON.stringify's walk of a 31-field object, its second pass for the control
 * characters it leaves unescaped, and without a string for the line at all: each field name is
 * bytes made once, each value is copied in as it is unless it holds a character that needs
 * escaping; then it goes through toJsonLine's escaping.
 */

/** What JSON.stringify escapes (quote, backslash, C0 controls, lone surrogates) and what toJsonLine adds. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x7b;
const CLOSE = 0x7d;

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const NULL = ascii('null');
const TRUE = ascii('true');
const FALSE = ascii('false');

/** `{"type":` and `,"<name>":` for every field, in the schema's order. */
const KEY = {
  type: ascii('{"type":'),
  time: ascii(',"time":'),
  requestId: ascii(',"requestId":'),
  traceId: ascii(',"traceId":'),
  seq: ascii(',"seq":'),
  app: ascii(',"app":'),
  host: ascii(',"host":'),
  method: ascii(',"method":'),
  uri: ascii(',"uri":'),
  protocol: ascii(',"protocol":'),
  status: ascii(',"status":'),
  outcome: ascii(',"outcome":'),
  error: ascii(',"error":'),
  errorCause: ascii(',"errorCause":'),
  bytesIn: ascii(',"bytesIn":'),
  bytesOut: ascii(',"bytesOut":'),
  start: ascii(',"start":'),
  end: ascii(',"end":'),
  durationMs: ascii(',"durationMs":'),
  upstreamMs: ascii(',"upstreamMs":'),
  clientIp: ascii(',"clientIp":'),
  peerIp: ascii(',"peerIp":'),
  privateEndpoint: ascii(',"privateEndpoint":'),
  userAgent: ascii(',"userAgent":'),
  identity: ascii(',"identity":'),
  sessionId: ascii(',"sessionId":'),
  endedSession: ascii(',"endedSession":'),
  authMethod: ascii(',"authMethod":'),
  decision: ascii(',"decision":'),
  auditDecision: ascii(',"auditDecision":'),
  upgrade: ascii(',"upgrade":'),
  configGeneration: ascii(',"configGeneration":'),
  requestHeaders: ascii(',"requestHeaders":'),
} as const;

/** Field names of the nested objects (identity, endedSession, decision). */
const INNER = {
  kind: ascii('{"kind":'),
  sub: ascii(',"sub":'),
  email: ascii(',"email":'),
  idp: ascii(',"idp":'),
  sessionId: ascii('{"sessionId":'),
  reason: ascii(',"reason":'),
  action: ascii('{"action":'),
  policy: ascii(',"policy":'),
  rule: ascii(',"rule":'),
} as const;

function str(w: LineWriter, value: string): void {
  if (NEEDS_ESCAPE.test(value)) {
    w.utf8(toJsonLine([value]).slice(1, -1));
    return;
  }
  w.byte(QUOTE);
  w.utf8(value);
  w.byte(QUOTE);
}

function strOrNull(w: LineWriter, value: string | null): void {
  if (value === null) w.bytes(NULL);
  else str(w, value);
}

function num(w: LineWriter, value: number): void {
  if (Number.isFinite(value)) w.ascii(`${value}`);
  else w.bytes(NULL);
}

/** `.001` to `.999` with trailing zeros dropped (`.5`, `.25`), by thousandths. */
const FRACTIONS = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}`.replace(/0+$/, ''));

/** Up to 1,000,000 s in milliseconds: thousandths of it still fit exactly in an integer. */
const MAX_MILLIS = 1e12;

/**
 * A duration in milliseconds with at most three decimals (how the record rounds them), written
 * from integers: a double's shortest decimal form costs far more than an integer's. Any other
 * value is written as JSON.stringify writes it.
 */
function millis(w: LineWriter, value: number): void {
  if (!(value >= 0 && value < MAX_MILLIS)) {
    num(w, value);
    return;
  }
  const thousandths = Math.round(value * 1000);
  if (thousandths / 1000 !== value) {
    num(w, value);
    return;
  }
  const whole = Math.floor(thousandths / 1000);
  const fraction = thousandths - whole * 1000;
  w.ascii(`${whole}`);
  if (fraction !== 0) w.ascii(FRACTIONS[fraction] as string);
}

function millisOrNull(w: LineWriter, value: number | null): void {
  if (value === null) w.bytes(NULL);
  else millis(w, value);
}

function identity(w: LineWriter, v: NativeRequestLine['identity']): void {
  if (v === null) {
    w.bytes(NULL);
    return;
  }
  w.bytes(INNER.kind);
  str(w, v.kind);
  w.bytes(INNER.sub);
  str(w, v.sub);
  w.bytes(INNER.email);
  strOrNull(w, v.email);
  w.bytes(INNER.idp);
  strOrNull(w, v.idp);
  w.byte(CLOSE);
}

function endedSession(w: LineWriter, v: NativeRequestLine['endedSession']): void {
  if (v === null) {
    w.bytes(NULL);
    return;
  }
  w.bytes(INNER.sessionId);
  str(w, v.sessionId);
  w.bytes(INNER.reason);
  str(w, v.reason);
  w.bytes(INNER.sub);
  str(w, v.sub);
  w.bytes(INNER.email);
  strOrNull(w, v.email);
  w.bytes(INNER.idp);
  str(w, v.idp);
  w.byte(CLOSE);
}

function decision(w: LineWriter, v: NativeRequestLine['decision']): void {
  if (v === null) {
    w.bytes(NULL);
    return;
  }
  w.bytes(INNER.action);
  str(w, v.action);
  w.bytes(INNER.policy);
  strOrNull(w, v.policy);
  w.bytes(INNER.rule);
  strOrNull(w, v.rule);
  w.bytes(INNER.reason);
  str(w, v.reason);
  w.byte(CLOSE);
}

function headers(w: LineWriter, v: NativeRequestLine['requestHeaders']): void {
  if (v === null) {
    w.bytes(NULL);
    return;
  }
  w.byte(OPEN);
  let first = true;
  for (const name of Object.keys(v)) {
    if (!first) w.byte(COMMA);
    first = false;
    str(w, name);
    w.byte(COLON);
    str(w, v[name] as string);
  }
  w.byte(CLOSE);
}

/** Writes the line (without its newline) of a native request record. */
export function writeNativeLine(w: LineWriter, r: NativeRequestLine): void {
  w.bytes(KEY.type);
  str(w, r.type);
  w.bytes(KEY.time);
  str(w, r.time);
  w.bytes(KEY.requestId);
  str(w, r.requestId);
  w.bytes(KEY.traceId);
  str(w, r.traceId);
  w.bytes(KEY.seq);
  num(w, r.seq);
  w.bytes(KEY.app);
  str(w, r.app);
  w.bytes(KEY.host);
  str(w, r.host);
  w.bytes(KEY.method);
  str(w, r.method);
  w.bytes(KEY.uri);
  str(w, r.uri);
  w.bytes(KEY.protocol);
  str(w, r.protocol);
  w.bytes(KEY.status);
  num(w, r.status);
  w.bytes(KEY.outcome);
  str(w, r.outcome);
  w.bytes(KEY.error);
  strOrNull(w, r.error);
  w.bytes(KEY.errorCause);
  strOrNull(w, r.errorCause);
  w.bytes(KEY.bytesIn);
  num(w, r.bytesIn);
  w.bytes(KEY.bytesOut);
  num(w, r.bytesOut);
  w.bytes(KEY.start);
  str(w, r.start);
  w.bytes(KEY.end);
  str(w, r.end);
  w.bytes(KEY.durationMs);
  millis(w, r.durationMs);
  w.bytes(KEY.upstreamMs);
  millisOrNull(w, r.upstreamMs);
  w.bytes(KEY.clientIp);
  str(w, r.clientIp);
  w.bytes(KEY.peerIp);
  str(w, r.peerIp);
  if (r.privateEndpoint !== undefined) {
    w.bytes(KEY.privateEndpoint);
    str(w, r.privateEndpoint);
  }
  w.bytes(KEY.userAgent);
  strOrNull(w, r.userAgent);
  w.bytes(KEY.identity);
  identity(w, r.identity);
  w.bytes(KEY.sessionId);
  strOrNull(w, r.sessionId);
  w.bytes(KEY.endedSession);
  endedSession(w, r.endedSession);
  w.bytes(KEY.authMethod);
  strOrNull(w, r.authMethod);
  w.bytes(KEY.decision);
  decision(w, r.decision);
  w.bytes(KEY.auditDecision);
  decision(w, r.auditDecision);
  w.bytes(KEY.upgrade);
  w.bytes(r.upgrade ? TRUE : FALSE);
  w.bytes(KEY.configGeneration);
  str(w, r.configGeneration);
  w.bytes(KEY.requestHeaders);
  headers(w, r.requestHeaders);
  w.byte(CLOSE);
}
