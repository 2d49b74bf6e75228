import type { SessionEnd } from '../../../contract/session-ends.ts';
import { LocalRevocations } from './local-revocations.ts';

/** Carries a session end to the other sidecars of the application (the operator, a shared directory). */
export interface SessionEndReporter {
  report(end: SessionEnd, application: string): Promise<ReportOutcome>;
}

/** How a report that got through went: its tries, and what each failed try met. */
export interface ReportOutcome {
  readonly attempts: number;
  readonly errors: readonly string[];
}

/** What the sidecar process does when one of its routes ends sessions. */
export interface SessionEnds {
  /**
   * Ends sessions here at once (the config in force gets the end; WebSockets of those sessions
   * close) and, when the sidecar has a reporter, in every other sidecar of the application.
   */
  end(end: SessionEnd, application: string, lifetimeMs: number): void;
}

/**
 * The process's session ends: the local part re-installs the config with the end merged in
 * (`reinstall`, given once the sidecar exists); the reporter, when there is one, carries it on.
 * A report that fails is logged by `onReportFailed`; the end still holds here.
 */
export function createSessionEnds(options: {
  readonly reporter?: SessionEndReporter;
  readonly onReportFailed: (end: SessionEnd, error: unknown) => void;
  /** Told once a report got through, with how long it took (ms) and what it retried. */
  readonly onReported?: (end: SessionEnd, outcome: ReportOutcome, ms: number) => void;
}) {
  const local = new LocalRevocations();
  let reinstall: () => void = () => undefined;
  const ends: SessionEnds = {
    end(end, application, lifetimeMs) {
      local.add(end, lifetimeMs);
      reinstall();
      const started = performance.now();
      options.reporter?.report(end, application).then(
        (outcome) => options.onReported?.(end, outcome, performance.now() - started),
        (error: unknown) => options.onReportFailed(end, error),
      );
    },
  };
  return {
    ends,
    local,
    /** Called by the process once it can install configs: re-installs the source's config with the local ends. */
    onReinstall(callback: () => void): void {
      reinstall = callback;
    },
  };
}
