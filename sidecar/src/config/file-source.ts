import { type FSWatcher, watch } from 'node:fs';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError } from '../../../contract/errors.ts';
import { createLoadCache } from './config-documents.ts';
import { type ConfigSnapshot, readSnapshot } from './config-files.ts';
import type { ConfigListener, ConfigSource } from './config-source.ts';
import { configFromSnapshot } from './load-application.ts';
import type { SelectApplication } from './select-application.ts';

export const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DEBOUNCE_MS = 50;
/** How long refused files must hold still before the refusal is told (see `unsettled`). */
export const SETTLE_MS = 250;
/**
 * Every this many polls, every file of the revocations directory is looked at, for a file
 * changed in place (which leaves the directory as it was) that no watcher reported; other polls
 * look at the directory itself, and at its files only when it changed.
 */
export const SWEEP_EVERY_POLLS = 30;

export interface FileConfigSourceOptions extends SelectApplication {
  /** A YAML/JSON file or a directory of them (e.g. a mounted ConfigMap). */
  readonly path: string;
  /** Safety net for watchers that miss events (network filesystems, symlink swaps). */
  readonly pollIntervalMs?: number;
  /** A directory of AccessRevocation files the replicas share, read with the config. */
  readonly revocationsDir?: string;
}

function sameSnapshot(a: ConfigSnapshot | undefined, b: ConfigSnapshot): boolean {
  if (!a || a.files.size !== b.files.size) return false;
  for (const [file, text] of b.files) if (a.files.get(file) !== text) return false;
  return true;
}

/**
 * Standalone mode: reads the same AccessApplication YAML a user would `kubectl apply`, renders it
 * in-process, and reloads when the files change (fs.watch, with polling as a safety net).
 */
export function createFileConfigSource(
  options: FileConfigSourceOptions,
  listener: ConfigListener,
): ConfigSource {
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let last: ConfigSnapshot | undefined;
  let poll: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;
  const extra = options.revocationsDir ? [options.revocationsDir] : [];
  const watchers: FSWatcher[] = [];

  // Each reload parses and checks only the files that changed.
  const cache = createLoadCache();
  const load = (snapshot: ConfigSnapshot): SidecarConfig => configFromSnapshot(snapshot, options, cache);

  /**
   * The revocations directory's file names its watcher reported since the last read (the read
   * looks at those alone: ReadOptions.told); undefined while no watcher reports them (none yet, or
   * it failed), when every file is looked at whenever the directory changed.
   */
  let told: Set<string> | undefined;
  /** The next read looks at every file: the first after the watchers start, or after a change they could not name. */
  let sweepNext = true;
  /**
   * Files whose config was refused, read once and waiting to be read the same once more before
   * the refusal is told: a file written in place is at times read half-written (empty, or cut
   * mid-document) between its truncation and its last write, and its refusal would be a false
   * alarm (a `config_rejected` line, a rejected reload counted) just before the whole file loads.
   */
  let unsettled: { readonly snapshot: ConfigSnapshot; readonly since: number } | undefined;
  let settle: NodeJS.Timeout | undefined;

  let polls = 0;
  const check = (sweep: boolean): void => {
    if (closed) return;
    const names = told;
    if (told !== undefined) told = new Set();
    const full = sweep || sweepNext;
    sweepNext = false;
    let snapshot: ConfigSnapshot;
    try {
      snapshot = readSnapshot(options.path, extra, {
        previous: last,
        sweep: full,
        ...(names !== undefined && options.revocationsDir
          ? { told: new Map([[options.revocationsDir, names]]) }
          : {}),
      });
    } catch (error) {
      // Files mid-replacement can be briefly missing; report only once per distinct failure.
      if (last !== undefined && error instanceof ConfigError) {
        last = undefined;
        listener.onRejected(error);
      }
      return;
    }
    // The newest stamps are kept even when no text changed (a dot file or a note added to a
    // directory, a file touched): else every later poll found them changed again and read the
    // whole directory, 8,000 revocation files a second, for as long as the sidecar ran.
    const same = sameSnapshot(last, snapshot);
    const previous = last;
    last = snapshot;
    if (same) return;
    listener.onWork?.();
    try {
      listener.onConfig(load(snapshot));
      unsettled = undefined;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const now = performance.now();
      if (unsettled !== undefined && sameSnapshot(unsettled.snapshot, snapshot)) {
        if (now - unsettled.since >= SETTLE_MS) {
          listener.onRejected(error);
          return;
        }
      } else unsettled = { snapshot, since: now };
      // Refused before the files held still for SETTLE_MS: read again then, and tell the refusal
      // only if they are the same.
      last = previous;
      if (settle) clearTimeout(settle);
      settle = setTimeout(() => check(false), Math.max(0, unsettled.since + SETTLE_MS - now));
    }
  };

  /** Reads again shortly: a change in the config looks at every file; one in the revocations directory at those it names. */
  let debounceSweep = false;
  const schedule = (sweep: boolean): void => {
    debounceSweep ||= sweep;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      const all = debounceSweep;
      debounceSweep = false;
      check(all);
    }, DEBOUNCE_MS);
  };
  const revocationsChanged = (_event: string, name: string | Buffer | null): void => {
    if (typeof name === 'string' && name !== '' && told !== undefined) told.add(name);
    else sweepNext = true;
    schedule(false);
  };

  return {
    async start() {
      const snapshot = readSnapshot(options.path, extra);
      const config = load(snapshot);
      last = snapshot;
      try {
        const watcher = watch(options.path, { persistent: false }, () => schedule(true));
        watcher.on('error', () => undefined); // polling keeps working
        watchers.push(watcher);
      } catch {
        // watching is an optimisation; polling below is authoritative
      }
      if (options.revocationsDir)
        try {
          const watcher = watch(options.revocationsDir, { persistent: false }, revocationsChanged);
          told = new Set();
          watcher.on('error', () => {
            // Polling keeps working, looking at every file of the directory when it changed.
            told = undefined;
            sweepNext = true;
          });
          watchers.push(watcher);
        } catch {
          // watching is an optimisation; polling below is authoritative
        }
      poll = setInterval(() => check(++polls % SWEEP_EVERY_POLLS === 0), pollIntervalMs);
      poll.unref();
      return config;
    },
    close() {
      closed = true;
      for (const watcher of watchers) watcher.close();
      if (poll) clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      if (settle) clearTimeout(settle);
    },
  };
}
