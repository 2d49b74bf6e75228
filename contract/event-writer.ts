import type { LogSink } from '../lib/log/log-sink.ts';
import { toJsonLine } from '../lib/log/sanitize.ts';
import type {
  AuthEventContext,
  AuthEventFields,
  AuthEventType,
  SidecarEventFields,
  SidecarEventType,
} from './log-events.ts';

/**
 * The writers of event lines, typed by the schemas of contract/log-events.ts. They import those
 * schemas as types only: a sidecar writes its events without building the event and log-line
 * schemas, which only docs/logs.md and the tests read.
 */

/** Writes one sidecar event line: `type`, `time`, then the fields its schema lists. */
export function logEvent<T extends SidecarEventType>(
  sink: LogSink,
  type: T,
  fields: SidecarEventFields<T>,
): void {
  sink.write(toJsonLine({ type, time: new Date().toISOString(), ...fields }));
}

/** Writes one auth event line: `type`, `time`, the request context, then the event's own fields. */
export function logAuthEvent<T extends AuthEventType>(
  sink: LogSink,
  type: T,
  context: AuthEventContext,
  fields: AuthEventFields<T>,
): void {
  sink.write(toJsonLine({ type, time: new Date().toISOString(), ...context, ...fields }));
}
