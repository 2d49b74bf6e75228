import { type Revocation, type SidecarConfig, sameFlatRecord } from './config/sidecar-config.ts';

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
 * The request header in which a sidecar names the messages it reads beyond `config`,
 * `revocations` and `heartbeat`; the operator sends those only to sidecars that name them.
 */
export const STREAM_ACCEPTS_HEADER = 'x-gatehouse-stream-accepts';
/** In STREAM_ACCEPTS_HEADER: the sidecar applies `revocations-changed` messages. */
export const ACCEPTS_REVOCATION_CHANGES = 'revocations-changed';

/**
 * One message on the stream. Unknown types are ignored by readers, so new ones can be added.
 * - `config`: the application's rendered config; it replaces the one the sidecar runs.
 * - `revocations`: the application's current revocations, sent when it cannot be rendered anew
 *   (a Secret missing, the spec invalid): the sidecar applies them to the config it runs, until
 *   the next `config` message, which carries them again.
 * - `revocations-changed`: the same, as a change to the revocations the sidecar was sent last
 *   (in the last `config` or `revocations` message, and the changes since): those `removed` (by
 *   name) go, those `added` come (replacing any of the same name); `generation` is the config's
 *   after the change. Sent only to a sidecar that names it in STREAM_ACCEPTS_HEADER, instead of
 *   `revocations`: a sign-out adds one revocation to a list that may hold thousands, and every
 *   sidecar of the application is sent the change. A sidecar whose config then has another
 *   generation (it refused something it was sent) keeps it and reconnects for whole lists.
 * - `heartbeat`: nothing changed; the stream is alive.
 * - `waiting`: the operator has no config for the application to send: why (`reason`:
 *   `ApplicationNotFound`, or the reason of the AccessApplication's Ready condition, e.g.
 *   `ProviderSecretMissing`, `InvalidSpec`, `KeysPending`) and what to do (`message`). Sent when
 *   the stream opens without a config and whenever the reason changes; also when the application
 *   is deleted (the sidecar keeps serving the config it has). Older sidecars ignore it.
 */
export type StreamMessage =
  | { readonly type: 'config'; readonly config: SidecarConfig }
  | { readonly type: 'revocations'; readonly revocations: readonly Revocation[] }
  | {
      readonly type: 'revocations-changed';
      readonly added: readonly Revocation[];
      readonly removed: readonly string[];
      readonly generation: string;
    }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'waiting'; readonly reason: string; readonly message: string };

/** Reason of a `waiting` message for an application the operator does not know. */
export const APPLICATION_NOT_FOUND = 'ApplicationNotFound';

/** The wire form of one message: one JSON line. */
export function streamLine(message: StreamMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** A received line: a config or revocations still to be validated, another message type, or not JSON at all. */
export type ReceivedLine =
  | { readonly type: 'config'; readonly config: unknown }
  | { readonly type: 'revocations'; readonly revocations: unknown }
  | {
      readonly type: 'revocations-changed';
      readonly added: unknown;
      readonly removed: unknown;
      readonly generation: unknown;
    }
  | { readonly type: 'waiting'; readonly reason: string; readonly message: string }
  | { readonly type: 'other' }
  | null;

/** Longest reason and message of a `waiting` message a reader keeps (longer ones are cut). */
const WAITING_TEXT_MAX = 1_000;

/** Reads one line of the stream; null when it is not JSON. The config itself is not validated here. */
export function readStreamLine(line: string): ReceivedLine {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return { type: 'other' };
  const fields = message as {
    type?: unknown;
    config?: unknown;
    revocations?: unknown;
    added?: unknown;
    removed?: unknown;
    generation?: unknown;
    reason?: unknown;
    message?: unknown;
  };
  if (fields.type === 'waiting' && typeof fields.reason === 'string' && typeof fields.message === 'string')
    return {
      type: 'waiting',
      reason: fields.reason.slice(0, WAITING_TEXT_MAX),
      message: fields.message.slice(0, WAITING_TEXT_MAX),
    };
  if (fields.type === 'config') return { type: 'config', config: fields.config };
  if (fields.type === 'revocations') return { type: 'revocations', revocations: fields.revocations };
  if (fields.type === 'revocations-changed')
    return {
      type: 'revocations-changed',
      added: fields.added,
      removed: fields.removed,
      generation: fields.generation,
    };
  return { type: 'other' };
}

/** What changed from one list of revocations to the next: the names gone, and those new or changed. */
export function revocationChanges(
  from: readonly Revocation[],
  to: readonly Revocation[],
): { added: Revocation[]; removed: string[] } {
  const before = new Map(from.map((r) => [r.name, r]));
  const after = new Set(to.map((r) => r.name));
  return {
    added: to.filter((r) => {
      const was = before.get(r.name);
      return was === undefined || !sameFlatRecord(r, was);
    }),
    removed: from.filter((r) => !after.has(r.name)).map((r) => r.name),
  };
}

/**
 * The revocations a `revocations-changed` message leaves: those in force less the removed names,
 * with the added ones (each replacing any of its name). Undefined when the message is malformed
 * (its parts not lists, a removed name not a string); the added ones are checked with the config.
 */
export function withRevocationChanges(
  inForce: readonly Revocation[],
  added: unknown,
  removed: unknown,
): unknown[] | undefined {
  if (!Array.isArray(added) || !Array.isArray(removed) || removed.some((n) => typeof n !== 'string'))
    return undefined;
  const gone = new Set<unknown>(removed);
  for (const item of added) gone.add((item as { name?: unknown } | null)?.name);
  return [...inForce.filter((r) => !gone.has(r.name)), ...added];
}
