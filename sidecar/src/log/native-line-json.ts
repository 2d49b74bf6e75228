import type { NativeRequestLine } from '../../../contract/log-line.ts';
import { toJsonLine } from '../../../lib/log/sanitize.ts';

/**
 * The native request line as JSON text, written field by field in the schema's order
 * (contract/log-line.ts): the same bytes as `toJsonLine(record)` (test/unit/native-line-json.test.ts
 * compares both on made-up records), without JSON.stringify's walk of a 31-field object and a
 * second pass over the whole line for the control characters it leaves unescaped. A string is
 * copied between quotes as it is unless it holds a character that needs escaping; then it goes
 * through toJsonLine's escaping.
 */

/** What JSON.stringify escapes (quote, backslash, C0 controls, lone surrogates) and what toJsonLine adds. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;

function str(value: string): string {
  return NEEDS_ESCAPE.test(value) ? toJsonLine([value]).slice(1, -1) : `"${value}"`;
}

function strOrNull(value: string | null): string {
  return value === null ? 'null' : str(value);
}

function num(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
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
function millis(value: number): string {
  if (!(value >= 0 && value < MAX_MILLIS)) return num(value);
  const thousandths = Math.round(value * 1000);
  if (thousandths / 1000 !== value) return num(value);
  const whole = Math.floor(thousandths / 1000);
  const fraction = thousandths - whole * 1000;
  if (fraction === 0) return `${whole}`;
  return `${whole}${FRACTIONS[fraction] as string}`;
}

function millisOrNull(value: number | null): string {
  return value === null ? 'null' : millis(value);
}

function identity(v: NativeRequestLine['identity']): string {
  if (v === null) return 'null';
  return `{"kind":${str(v.kind)},"sub":${str(v.sub)},"email":${strOrNull(v.email)},"idp":${strOrNull(v.idp)}}`;
}

function endedSession(v: NativeRequestLine['endedSession']): string {
  if (v === null) return 'null';
  return `{"sessionId":${str(v.sessionId)},"reason":${str(v.reason)},"sub":${str(v.sub)},"email":${strOrNull(v.email)},"idp":${str(v.idp)}}`;
}

function decision(v: NativeRequestLine['decision']): string {
  if (v === null) return 'null';
  return `{"action":${str(v.action)},"policy":${strOrNull(v.policy)},"rule":${strOrNull(v.rule)},"reason":${str(v.reason)}}`;
}

function headers(v: NativeRequestLine['requestHeaders']): string {
  if (v === null) return 'null';
  let out = '{';
  for (const name of Object.keys(v)) {
    out += `${out.length > 1 ? ',' : ''}${str(name)}:${str(v[name] as string)}`;
  }
  return `${out}}`;
}

/** The line (no newline) for a native request record. */
export function nativeLineJson(r: NativeRequestLine): string {
  return (
    `{"type":${str(r.type)},"time":${str(r.time)},"requestId":${str(r.requestId)},"traceId":${str(r.traceId)}` +
    `,"seq":${num(r.seq)},"app":${str(r.app)},"host":${str(r.host)},"method":${str(r.method)}` +
    `,"uri":${str(r.uri)},"protocol":${str(r.protocol)},"status":${num(r.status)},"outcome":${str(r.outcome)}` +
    `,"error":${strOrNull(r.error)},"bytesIn":${num(r.bytesIn)},"bytesOut":${num(r.bytesOut)}` +
    `,"start":${str(r.start)},"end":${str(r.end)},"durationMs":${millis(r.durationMs)},"upstreamMs":${millisOrNull(r.upstreamMs)}` +
    `,"clientIp":${str(r.clientIp)},"peerIp":${str(r.peerIp)},"userAgent":${strOrNull(r.userAgent)}` +
    `,"identity":${identity(r.identity)},"sessionId":${strOrNull(r.sessionId)},"endedSession":${endedSession(r.endedSession)}` +
    `,"authMethod":${strOrNull(r.authMethod)},"decision":${decision(r.decision)},"auditDecision":${decision(r.auditDecision)}` +
    `,"upgrade":${r.upgrade ? 'true' : 'false'},"configGeneration":${str(r.configGeneration)},"requestHeaders":${headers(r.requestHeaders)}}`
  );
}
