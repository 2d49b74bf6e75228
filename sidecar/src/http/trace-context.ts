import { newTraceIds } from './random-ids.ts';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header that ties a
 * request's log line to the application's traces. Gatehouse records no spans of its own; it
 * passes a trusted proxy's trace on unchanged, or starts one.
 */

/** `version-traceid-parentid-flags`: version 00 exactly; a later version may append fields after the flags. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

/** The trace id of a well-formed traceparent, or undefined (invalid, all-zero ids, version ff, or 00 with extra fields). */
export function traceIdOf(value: string): string | undefined {
  if (value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, parentId, , rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  return traceId;
}

/** A new trace: random trace and parent ids, sampled (flags 01) so the application's parent-based sampler records it. */
export function newTraceparent(): { traceparent: string; traceId: string } {
  const { traceId, parentId } = newTraceIds();
  return { traceparent: `00-${traceId}-${parentId}-01`, traceId };
}
