import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import type { ConfigError } from '../../../contract/errors.ts';

/** Where SidecarConfig comes from (files, or the operator's stream); one interface for both. */
export interface ConfigSource {
  /** Resolves with the first valid config; rejects with ConfigError when there is none. */
  start(): Promise<SidecarConfig>;
  /** Stops watching; no callback fires afterwards. */
  close(): void;
}

/** What a source reports after start: a new valid config, or a rejected change (last good stays). */
export interface ConfigListener {
  onConfig(config: SidecarConfig): void;
  onRejected(error: ConfigError): void;
  /**
   * A change arrived and is about to be parsed and checked (before onConfig or onRejected): work
   * that can hold the event loop for a large config. Not told for heartbeats or unchanged files.
   */
  onWork?(): void;
}
