import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import {
  forgetOldReplicaReports,
  MAX_REPORTED_REVOCATIONS,
  REPLICA_REPORT_EVERY_MS,
  removeReplicaReport,
  writeReplicaReport,
} from '../../../contract/replica-reports.ts';
import { SESSION_END_NAME } from '../../../contract/session-ends.ts';

/**
 * A standalone sidecar's report in the shared revocations directory (contract/replica-reports.ts):
 * which revocations are in force in it, written when they change and every REPLICA_REPORT_EVERY_MS,
 * deleted when it stops, so that `gatehouse revoke --revocations-dir` can confirm a revocation from
 * every running replica.
 */
export interface ReplicaReporter {
  /** A config was installed: its revocations are the ones in force now. */
  installed(config: SidecarConfig): void;
  /** The replica listens as `replica` (`<host>:<port>`): its first report, then the timer. */
  start(replica: string): void;
  /** It stops: no more reports, and its report is deleted (nobody should wait for it). */
  stop(): Promise<void>;
}

export interface ReplicaReporterOptions {
  readonly directory: string;
  /** A report could not be written (or deleted); said once until one is written again. */
  readonly onError: (error: Error) => void;
  readonly everyMs?: number;
  readonly now?: () => number;
  /** How a report is written (the shared directory's writer unless a test stands in for it). */
  readonly write?: typeof writeReplicaReport;
}

/** Longest a stop waits for the report's deletion (ms). */
const STOP_WAIT_MS = 1_000;

/** Writes between looks for reports nobody has written for a day (about once an hour). */
const FORGET_EVERY_WRITES = 360;

export function createReplicaReporter(options: ReplicaReporterOptions): ReplicaReporter {
  const everyMs = options.everyMs ?? REPLICA_REPORT_EVERY_MS;
  const now = options.now ?? Date.now;
  let state: { app: string; signsIn: boolean; revocations: string[] } | undefined;
  let replica: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let lastError: string | undefined;
  let writes = 0;

  const failed = (error: unknown): void => {
    const message = (error as Error).message;
    if (message === lastError) return;
    lastError = message;
    options.onError(error as Error);
  };

  const writeOnce = async (): Promise<void> => {
    if (state === undefined || replica === undefined || stopped) return;
    await (options.write ?? writeReplicaReport)(options.directory, {
      replica,
      app: state.app,
      pid: process.pid,
      reportedAt: new Date(now()).toISOString(),
      everyMs,
      signsIn: state.signsIn,
      revocations: state.revocations,
    });
    lastError = undefined;
    if (writes++ % FORGET_EVERY_WRITES === 0) await forgetOldReplicaReports(options.directory, now());
  };

  /** Writes the report now, or once more after the write in progress (one at a time). */
  const write = (): void => {
    if (writing) {
      again = true;
      return;
    }
    writing = writeOnce()
      .catch(failed)
      .finally(() => {
        writing = undefined;
        if (again && !stopped) {
          again = false;
          write();
        }
      });
  };

  return {
    installed(config) {
      const revocations = config.revocations
        .map((r) => r.name)
        .filter((name) => !SESSION_END_NAME.test(name))
        .slice(0, MAX_REPORTED_REVOCATIONS);
      const app = `${config.application.namespace || 'default'}/${config.application.name}`;
      const signsIn = config.auth.providers.length > 0;
      const changed =
        state === undefined ||
        state.app !== app ||
        state.signsIn !== signsIn ||
        state.revocations.length !== revocations.length ||
        state.revocations.some((name, i) => name !== revocations[i]);
      state = { app, signsIn, revocations };
      if (changed && replica !== undefined) write();
    },
    start(name) {
      if (stopped || replica !== undefined) return;
      replica = name;
      write();
      timer = setInterval(write, everyMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      const remove = async (): Promise<void> => {
        await writing;
        if (state === undefined || replica === undefined) return;
        await removeReplicaReport(options.directory, state.app, replica).catch(failed);
      };
      // A directory that hangs (an NFS server gone) must not hold the stop: the report then goes
      // stale, and the command says so.
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([
        remove(),
        new Promise((resolve) => {
          waited = setTimeout(resolve, STOP_WAIT_MS);
        }),
      ]);
      clearTimeout(waited);
    },
  };
}
