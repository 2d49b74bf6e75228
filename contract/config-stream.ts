import type { Revocation, SidecarConfig } from './config/sidecar-config.ts';

/**
 * The config stream between the operator and its sidecars: a long-lived HTTPS GET answered with
 * newline-delimited JSON messages, the current config first, then every change, with heartbeats
 * in between so both ends notice a dead connection.
 */
export const CONFIG_STREAM_PATH = '/v1/config';
/** Query parameter naming the application a sidecar serves; the operator checks the pod's label. */
export const STREAM_APPLICATION_PARAM = 'application';
/** The audience of the projected ServiceAccount token a sidecar shows the operator. */
export const STREAM_AUDIENCE = 'gatehouse';
/** The environment variable holding the operator's CA bundle (PEM); the injection webhook sets it. */
export const OPERATOR_CA_ENV = 'GATEHOUSE_OPERATOR_CA';
/** The operator writes a heartbeat this often while nothing else is sent. */
export const HEARTBEAT_MS = 15_000;
/** Three missed heartbeats mean the stream is dead. */
export const STALL_TIMEOUT_MS = 3 * HEARTBEAT_MS;
/**
 * How a sidecar reconnects: full jitter over [0, min(2 s, 100 ms · 2^attempt)]. A sidecar is back
 * within 2 s of an operator being reachable again, and reconnections after an outage spread
 * evenly over those 2 s (10,000 sidecars: about 5,000 new streams a second across the replicas;
 * see docs/operator.md). The operator bounds the verifications it runs at once and answers 503
 * beyond that, which spreads a storm further.
 */
export const RECONNECT_BACKOFF = { baseMs: 100, maxMs: 2_000 } as const;
/** The media type of the stream. */
export const STREAM_MEDIA_TYPE = 'application/x-ndjson';

/**
 * One message on the stream. Unknown types are ignored by readers, so new ones can be added.
 * - `config`: the application's rendered config; it replaces the one the sidecar runs.
 * - `revocations`: the application's current revocations, sent when it cannot be rendered anew
 *   (a Secret missing, the spec invalid): the sidecar applies them to the config it runs, until
 *   the next `config` message, which carries them again.
 * - `heartbeat`: nothing changed; the stream is alive.
 */
export type StreamMessage =
  | { readonly type: 'config'; readonly config: SidecarConfig }
  | { readonly type: 'revocations'; readonly revocations: readonly Revocation[] }
  | { readonly type: 'heartbeat' };

/** The wire form of one message: one JSON line. */
export function streamLine(message: StreamMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** A received line: a config or revocations still to be validated, another message type, or not JSON at all. */
export type ReceivedLine =
  | { readonly type: 'config'; readonly config: unknown }
  | { readonly type: 'revocations'; readonly revocations: unknown }
  | { readonly type: 'other' }
  | null;

/** Reads one line of the stream; null when it is not JSON. The config itself is not validated here. */
export function readStreamLine(line: string): ReceivedLine {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return { type: 'other' };
  const fields = message as { type?: unknown; config?: unknown; revocations?: unknown };
  if (fields.type === 'config') return { type: 'config', config: fields.config };
  if (fields.type === 'revocations') return { type: 'revocations', revocations: fields.revocations };
  return { type: 'other' };
}
