import type { LogSink } from '../lib/log/log-sink.ts';
import { toJsonLine } from '../lib/log/sanitize.ts';

/** Auth event types: sign-in, sign-out, refresh and credential failures. */
export type AuthEventType =
  | 'login_succeeded'
  | 'login_failed'
  | 'logout'
  | 'session_refreshed'
  | 'session_refresh_failed'
  | 'session_expired'
  | 'session_revoked'
  | 'revocation_applied'
  | 'logout_refused'
  | 'backchannel_logout'
  | 'backchannel_logout_refused'
  | 'service_token_failed'
  | 'token_failed';

/** Kinds of non-request lines in the same stream, told apart by `type`. */
export type EventType =
  | 'sidecar_started'
  | 'sidecar_stopping'
  | 'sidecar_stopped'
  | 'node_options_missing'
  | 'config_loaded'
  | 'config_rejected'
  | 'config_stream_connected'
  | 'config_stream_disconnected'
  | 'websocket_closed'
  | 'session_end_unreported'
  | 'revocation_skipped'
  | AuthEventType;

/** Writes one event line: `type`, `time`, then the given fields (allowlisted by each caller). */
export function logEvent(sink: LogSink, type: EventType, fields: Record<string, unknown>): void {
  sink.write(toJsonLine({ type, time: new Date().toISOString(), ...fields }));
}
