import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { logEvent } from '../../../contract/event-writer.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';
import { processKeys } from '../auth/process-keys.ts';
import type { ConfigListener, ConfigSource } from '../config/config-source.ts';
import type { SidecarMetrics } from '../metrics/metrics.ts';
import { appOf } from './config-loaded-line.ts';
import type { SidecarFlags } from './sidecar-flags.ts';

/** What the sidecar tells of its wait for a config from the operator, in the log and the metrics. */
export interface ConfigWaitNotices {
  /** The operator's stream gave no config yet, or lost it: once per reason and message. */
  waiting(reason: string, message: string): void;
  /** The stream connected or disconnected. */
  connection(event: { connected: boolean; reason?: string; retryInMs?: number }): void;
  /** A config was installed: no longer waiting, and a reason given again is news. */
  installed(): void;
}

export function createConfigWaitNotices(
  flags: SidecarFlags,
  sink: LogSink,
  metrics: SidecarMetrics,
  current: () => SidecarConfig | undefined,
  /** The operator is back: session ends it could not take get their next round now. */
  operatorBack: () => void,
): ConfigWaitNotices {
  /** The last `waiting` message logged (reason and message). */
  let lastWaiting = '';
  const app = () => appOf(current()) ?? flags.application ?? null;
  return {
    waiting(reason, message) {
      const serving = current() !== undefined;
      metrics.configWaiting({ reason, serving });
      // Once per reason and message: a reconnect is told the same again.
      const said = `${reason}\u0000${message}`;
      if (said === lastWaiting) return;
      lastWaiting = said;
      logEvent(sink, 'config_waiting', { app: app(), reason, message, serving });
    },
    connection(event) {
      metrics.configStreamConnected(event.connected);
      if (event.connected) operatorBack();
      logEvent(sink, event.connected ? 'config_stream_connected' : 'config_stream_disconnected', {
        app: app(),
        ...(event.connected ? {} : { reason: event.reason, retryInMs: event.retryInMs }),
      });
    },
    installed() {
      lastWaiting = '';
      metrics.configWaiting(undefined);
    },
  };
}

/**
 * The sidecar's config source: the operator's stream, or the config files (with the revocations
 * directory). Each mode's source loads only in that mode: the YAML loader is not in a cluster
 * sidecar.
 */
export async function openConfigSource(
  flags: SidecarFlags,
  sink: LogSink,
  /** The CA the operator's certificate must chain to (read and checked once). */
  operatorTrust: string,
  notices: ConfigWaitNotices,
  listener: ConfigListener,
  /** Files: told at each load how many session ends in force name each account. */
  onSessionEndAccounts?: (counts: ReadonlyMap<string, number>) => void,
): Promise<ConfigSource> {
  const operator = flags.operator;
  if (operator)
    return (await import('../config/operator-source.ts')).createOperatorConfigSource(
      {
        url: operator.url,
        ca: operatorTrust,
        tokenFile: operator.tokenFile,
        ...(flags.application ? { application: flags.application } : {}),
        onWaiting: (waiting) => notices.waiting(waiting.reason, waiting.message),
        onConnection: (event) => notices.connection(event),
      },
      listener,
    );
  return (await import('../config/file-source.ts')).createFileConfigSource(
    {
      path: flags.config as string,
      pollIntervalMs: flags.pollIntervalMs,
      fallbackKeys: processKeys(),
      ...(flags.application ? { application: flags.application } : {}),
      ...(flags.revocationsDir ? { revocationsDir: flags.revocationsDir } : {}),
      onInvalidRevocation: (problem) =>
        logEvent(sink, 'revocation_skipped', { path: problem.path, error: problem.message }),
      ...(onSessionEndAccounts ? { onSessionEndAccounts } : {}),
    },
    listener,
  );
}
