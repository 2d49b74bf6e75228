import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { withRevocations } from '../../../contract/config/render.ts';
import {
  parseSidecarConfig,
  type Revocation,
  type SidecarConfig,
} from '../../../contract/config/sidecar-config.ts';
import {
  ACCEPTS_REVOCATION_CHANGES,
  CONFIG_STREAM_PATH,
  RECONNECT_BACKOFF,
  readStreamLine,
  STALL_TIMEOUT_MS,
  STREAM_ACCEPTS_HEADER,
  STREAM_APPLICATION_PARAM,
  STREAM_MEDIA_TYPE,
  withRevocationChanges,
} from '../../../contract/config-stream.ts';
import { ConfigError } from '../../../contract/errors.ts';
import { jitteredBackoff, sleep } from '../../../lib/backoff.ts';
import { errorBodyStart } from '../../../lib/http/error-body.ts';
import { Agent, requestOn } from '../../../lib/http/undici-core.ts';
import { ndjsonLines } from '../../../lib/ndjson-lines.ts';
import { stallTimer } from '../../../lib/stall-timer.ts';
import type { ConfigListener, ConfigSource } from './config-source.ts';
import { streamErrorReason } from './stream-errors.ts';

const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface OperatorSourceOptions {
  /** Base URL of the operator's config endpoint, e.g. https://gatehouse-operator.gatehouse-system.svc:8443 */
  readonly url: string;
  /** CA bundle (PEM) that signs the operator's serving certificate. */
  readonly ca: string | Buffer;
  /** Projected ServiceAccount token (audience gatehouse); re-read at every connection, since the kubelet rotates it. */
  readonly tokenFile: string;
  /** When set, the operator refuses the stream unless this pod serves that application. */
  readonly application?: string;
  readonly stallTimeoutMs?: number;
  readonly backoff?: { baseMs: number; maxMs: number };
  /** Connection changes, for the log: connected, or disconnected with the reason. */
  readonly onConnection?: (event: { connected: boolean; reason?: string; retryInMs?: number }) => void;
  /** The operator has no config for this application: why, and what to do (a `waiting` message). */
  readonly onWaiting?: (waiting: { reason: string; message: string }) => void;
}

class StreamStalled extends Error {}

/**
 * Lines up to this long (a heartbeat is 20 characters) are parsed in microseconds; a longer one
 * (a config, a list of revocations) is work the listener is told of before it is parsed; a
 * short revocation change counts as work when it is installed (cli/sidecar-command.ts).
 */
const SHORT_LINE_CHARS = 256;

/**
 * Cluster mode: the config comes from the operator over a long-lived HTTPS stream, one NDJSON
 * line per change. start() resolves with the first valid config (the sidecar is not ready before);
 * afterwards the source reconnects with jittered backoff forever, and a config that fails
 * validation is reported and skipped, so the last good one stays in force.
 */
export function createOperatorConfigSource(
  options: OperatorSourceOptions,
  listener: ConfigListener,
): ConfigSource {
  const stop = new AbortController();
  const stallTimeoutMs = options.stallTimeoutMs ?? STALL_TIMEOUT_MS;
  const dispatcher = new Agent({ connect: { ca: options.ca }, keepAliveTimeout: 1_000 });
  let current: SidecarConfig | undefined;
  /**
   * The operator's config as it was sent, while the one in force is not it: a config of a later
   * version, refused, whose revocations alone were applied. Changes to its revocations keep it in
   * step, so a change's generation (the operator's) can be checked against it.
   */
  let refusedLater: { readonly body: Record<string, unknown>; revocations: readonly unknown[] } | undefined;
  let first: (config: SidecarConfig) => void = () => undefined;
  const firstConfig = new Promise<SidecarConfig>((resolve) => {
    first = resolve;
  });

  /** Applies one line; `resync` when this sidecar must reconnect to be in step with the operator again. */
  const accept = (line: string): 'resync' | undefined => {
    if (line.length > SHORT_LINE_CHARS) listener.onWork?.();
    const message = readStreamLine(line);
    if (message === null) {
      listener.onRejected(
        new ConfigError('config_invalid', [{ path: '(operator stream)', message: 'a line is not JSON' }]),
      );
      return 'resync';
    }
    if (message.type === 'other') return; // heartbeats and future message types
    if (message.type === 'waiting') {
      options.onWaiting?.({ reason: message.reason, message: message.message });
      return;
    }
    // Revocations alone apply to the config in force; with none yet, there is nothing to apply them to.
    if (message.type !== 'config' && current === undefined) return;
    // The generation is the hash of the config's content: a config whose generation is the one in
    // force changes nothing, and is not checked again (the first line after a reconnect, and the
    // render an operator before 2026-12-04 sent after every revocation it had already sent on
    // its own: checking it cost as much as applying the revocation).
    if (message.type === 'config' && sameGeneration(message.config, current)) return;
    const change = message.type === 'revocations-changed';
    let config: SidecarConfig;
    let operatorGeneration: string | undefined;
    try {
      if (message.type === 'config') {
        config = parseSidecarConfig(message.config, current);
        refusedLater = undefined;
      } else {
        const revocations =
          message.type === 'revocations'
            ? message.revocations
            : withRevocationChanges(current?.revocations ?? [], message.added, message.removed);
        if (revocations === undefined)
          throw new ConfigError('config_invalid', [
            { path: '(operator stream)', message: 'a revocations-changed message is malformed' },
          ]);
        const checked = parseSidecarConfig({ ...current, revocations }, current);
        config = withRevocations(checked, checked.revocations);
        operatorGeneration = followRefusedLater(message);
      }
    } catch (error) {
      if (error instanceof ConfigError) listener.onRejected(error);
      const salvaged = message.type === 'config' ? revocationsOfRefused(message.config) : undefined;
      // A change that could not be applied leaves this sidecar's revocations apart from what the
      // operator thinks it sent: only whole lists (a new stream) bring them back together.
      if (salvaged === undefined) return change ? 'resync' : undefined;
      config = salvaged;
    }
    // A change applied to revocations other than those the operator sent (this sidecar refused a
    // line before) gives another config than the operator's: keep it (it only adds and removes
    // revocations) and reconnect for whole lists.
    const drifted = change && (operatorGeneration ?? config.generation) !== message.generation;
    if (current?.generation !== config.generation) {
      const isFirst = current === undefined;
      current = config;
      if (isFirst) first(config);
      else listener.onConfig(config);
    }
    return drifted ? 'resync' : undefined;
  };

  /**
   * A config this sidecar refuses (written by a later version: a field it does not know) still
   * ends sessions: its revocations, when they are well formed, apply to the config in force,
   * which they can only restrict. Undefined when there is no config in force or they are not.
   */
  const revocationsOfRefused = (received: unknown): SidecarConfig | undefined => {
    if (current === undefined || typeof received !== 'object' || received === null) return undefined;
    const { generation: _, ...body } = received as Record<string, unknown>;
    try {
      const checked = parseSidecarConfig({ ...current, revocations: body.revocations }, current);
      refusedLater = { body, revocations: body.revocations as unknown[] };
      return withRevocations(checked, checked.revocations);
    } catch {
      return undefined;
    }
  };

  /**
   * Keeps the refused later config's revocations in step with a revocations message; for a
   * change, the generation the operator's config has after it (undefined while the config in
   * force is the operator's, or for a whole list, which carries none).
   */
  const followRefusedLater = (
    message:
      | { readonly type: 'revocations'; readonly revocations: unknown }
      | { readonly type: 'revocations-changed'; readonly added: unknown; readonly removed: unknown },
  ): string | undefined => {
    if (refusedLater === undefined) return undefined;
    const revocations =
      message.type === 'revocations'
        ? (message.revocations as unknown[])
        : (withRevocationChanges(refusedLater.revocations as Revocation[], message.added, message.removed) ??
          []);
    refusedLater.revocations = revocations;
    if (message.type === 'revocations') return undefined;
    return withRevocations(refusedLater.body as unknown as SidecarConfig, revocations as Revocation[])
      .generation;
  };

  const connectOnce = async (): Promise<void> => {
    const abort = new AbortController();
    const onStop = (): void => abort.abort();
    stop.signal.addEventListener('abort', onStop, { once: true });
    const stall = stallTimer(stallTimeoutMs, abort);
    try {
      stall.arm();
      const url = new URL(CONFIG_STREAM_PATH, options.url);
      if (options.application) url.searchParams.set(STREAM_APPLICATION_PARAM, options.application);
      const token = readFileSync(options.tokenFile, 'utf8').trim();
      const response = await requestOn(dispatcher, url, {
        signal: abort.signal,
        headers: {
          authorization: `Bearer ${token}`,
          accept: STREAM_MEDIA_TYPE,
          [STREAM_ACCEPTS_HEADER]: ACCEPTS_REVOCATION_CHANGES,
        },
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      if (response.statusCode !== 200) {
        const body = await errorBodyStart(response.body as Readable);
        throw new Error(`operator answered ${response.statusCode}: ${body}`);
      }
      options.onConnection?.({ connected: true });
      for await (const line of ndjsonLines(response.body as Readable, {
        maxLineBytes: MAX_LINE_BYTES,
        onChunk: stall.arm,
      }))
        if (accept(line) === 'resync')
          throw new Error('the revocations drifted from the operator’s (a line was refused): reconnecting');
      throw new Error('the operator ended the stream');
    } catch (error) {
      if (stall.stalled) throw new StreamStalled(`no data for ${stallTimeoutMs} ms`);
      throw error;
    } finally {
      stall.clear();
      stop.signal.removeEventListener('abort', onStop);
      abort.abort();
    }
  };

  const loop = async (): Promise<void> => {
    let attempt = 0;
    while (!stop.signal.aborted) {
      const startedAt = Date.now();
      try {
        await connectOnce();
      } catch (error) {
        if (stop.signal.aborted) return;
        if (Date.now() - startedAt > 10_000) attempt = 0; // it worked for a while: start the backoff over
        const retryInMs = jitteredBackoff(attempt++, options.backoff ?? RECONNECT_BACKOFF);
        options.onConnection?.({ connected: false, reason: streamErrorReason(error), retryInMs });
        await sleep(retryInMs, stop.signal);
      }
    }
  };

  return {
    start() {
      void loop();
      return firstConfig;
    },
    close() {
      stop.abort();
      void dispatcher.close();
    },
  };
}

/** True when a received config names the generation of the config in force. */
function sameGeneration(received: unknown, current: SidecarConfig | undefined): boolean {
  if (current === undefined || typeof received !== 'object' || received === null) return false;
  return (received as { generation?: unknown }).generation === current.generation;
}
