import type { SESSION_END_GIVEN_UP } from '../../../contract/session-end-outcomes.ts';
import type { SessionEnd } from '../../../contract/session-ends.ts';
import { jitteredBackoff } from '../../../lib/backoff.ts';
import { LocalRevocations } from './local-revocations.ts';
import type { KeptEnd, SessionEndsFile } from './session-ends-file.ts';

/** Carries a session end to the other sidecars of the application (the operator, a shared directory). */
export interface SessionEndReporter {
  /**
   * Resolves once the end got through; rejects (with a ReportFailed when it can say more) when it
   * did not. `account` (sessionEndAccount) is whose session it was, when known: the receiver counts
   * each account's ends (SESSION_ENDS_PER_ACCOUNT).
   */
  report(end: SessionEnd, application: string, account?: string): Promise<ReportOutcome>;
}

/** How a report that got through went: its tries, and what each failed try met. */
export interface ReportOutcome {
  readonly attempts: number;
  readonly errors: readonly string[];
}

/** A report that did not get through: its tries, what each met, and whether trying again may help. */
export class ReportFailed extends Error {
  override readonly name = 'ReportFailed';
  readonly attempts: number;
  readonly errors: readonly string[];
  /** The receiver refused the end (a 4xx other than 429): another try will not get it through. */
  readonly refused: boolean;
  /** Refused as one of too many in force of its account (SESSION_ENDS_PER_ACCOUNT). */
  readonly accountFull: boolean;
  constructor(
    message: string,
    attempts: number,
    errors: readonly string[],
    refused: boolean,
    accountFull = false,
  ) {
    super(message);
    this.attempts = attempts;
    this.errors = errors;
    this.refused = refused;
    this.accountFull = accountFull;
  }
}

/** Why a session end stopped being retried without getting through. */
export type SessionEndGivenUp = (typeof SESSION_END_GIVEN_UP)[number];

/**
 * Waits between the rounds of a report that failed its first round (a reporter's own tries, a
 * few seconds): up to 2 s, doubling to up to 30 s (full jitter), for as long as a session
 * the end covers may be alive. Before, an end whose first round failed (the operator unreachable
 * for longer, the API server down) held in its own sidecar only, and every other sidecar of the
 * application kept accepting the session.
 */
export const SESSION_END_RETRY = { baseMs: 2_000, maxMs: 30_000 } as const;

/** Ends waiting for another round at most; past it a further failed end is given up. */
export const MAX_DELAYED_SESSION_ENDS = 1_000;

/** While the process stops, the longest wait between the rounds of an end that has not got through. */
const STOPPING_ROUND_GAP_MS = 1_000;

/** Failed tries a report that got through lists at most (the earliest and the latest). */
const MAX_LISTED_ERRORS = 20;

/** What the sidecar process does when one of its routes ends sessions. */
export interface SessionEnds {
  /**
   * Ends sessions here at once (the config in force gets the end; WebSockets of those sessions
   * close) and, when the sidecar has a reporter, in every other sidecar of the application.
   * `account` (sessionEndAccount) is whose session it was, when known.
   */
  end(end: SessionEnd, application: string, lifetimeMs: number, account?: string): void;
}

export interface SessionEndEvents {
  /** Told once a report got through, with how long it took (ms) and its tries in all. */
  readonly onReported?: (end: SessionEnd, outcome: ReportOutcome, ms: number) => void;
  /** The first round failed: the end holds here only until a later round gets through. */
  readonly onDelayed: (end: SessionEnd, error: string, retryUntilMs: number) => void;
  /** The end will not be tried again; it held here only. */
  readonly onGivenUp: (end: SessionEnd, reason: SessionEndGivenUp, error: string) => void;
}

interface Delivery {
  readonly end: SessionEnd;
  readonly application: string;
  readonly account: string | undefined;
  /** When every session the end covers has expired (epoch ms): no need to carry it after. */
  readonly until: number;
  readonly started: number;
  attempts: number;
  errors: string[];
  rounds: number;
  timer: NodeJS.Timeout | undefined;
  /** Reported or given up: a round still answering after that tells nothing. */
  settled: boolean;
}

function failureOf(error: unknown): ReportFailed {
  if (error instanceof ReportFailed) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ReportFailed(message, 1, [message], false);
}

/** The first and the last failed tries, at most MAX_LISTED_ERRORS of them. */
function listed(errors: readonly string[]): string[] {
  if (errors.length <= MAX_LISTED_ERRORS) return [...errors];
  const half = MAX_LISTED_ERRORS / 2;
  return [...errors.slice(0, half), ...errors.slice(-half)];
}

/**
 * The process's session ends: the local part re-installs the config with the end merged in
 * (`reinstall`, given once the sidecar exists); the reporter, when there is one, carries it on,
 * in rounds until it gets through, is refused, or covers no session that may still be alive.
 */
export function createSessionEnds(
  options: SessionEndEvents & {
    readonly reporter?: SessionEndReporter;
    /** Where ends are kept across a restart (`--session-ends-file`), when anywhere. */
    readonly file?: Pick<SessionEndsFile, 'add' | 'settle'>;
    readonly retry?: { readonly baseMs: number; readonly maxMs: number };
    readonly now?: () => number;
    /** The jitter's source (0 to 1). */
    readonly random?: () => number;
  },
) {
  const { reporter, file } = options;
  const retry = options.retry ?? SESSION_END_RETRY;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const local = new LocalRevocations(now);
  /** Every end being carried: in a round, or waiting for the next one. */
  const carried = new Set<Delivery>();
  /** Those of `carried` whose first round failed. */
  const delayed = new Set<Delivery>();
  /** Once the process stops, when its time for rounds is up (epoch ms); none after. */
  let stopBy = Number.POSITIVE_INFINITY;
  /** Told once nothing is carried any more (the stop waits for it). */
  let whenSettled: (() => void) | undefined;
  let reinstall: () => void = () => undefined;

  const settle = (delivery: Delivery): void => {
    delivery.settled = true;
    if (delivery.timer !== undefined) clearTimeout(delivery.timer);
    delivery.timer = undefined;
    carried.delete(delivery);
    delayed.delete(delivery);
    if (carried.size === 0) whenSettled?.();
  };
  const giveUp = (delivery: Delivery, reason: SessionEndGivenUp, error: string): void => {
    settle(delivery);
    // Refused, another try will not help; expired, nothing is left to end. Any other reason
    // (a stop, too many waiting) leaves it to be reported again by the next start.
    if (reason === 'refused' || reason === 'account_full' || reason === 'sessions_expired')
      file?.settle(delivery.end);
    options.onGivenUp(delivery.end, reason, error);
  };

  const round = (r: SessionEndReporter, delivery: Delivery): void => {
    delivery.timer = undefined;
    r.report(delivery.end, delivery.application, delivery.account).then(
      (outcome) => {
        if (delivery.settled) return;
        settle(delivery);
        file?.settle(delivery.end);
        options.onReported?.(
          delivery.end,
          {
            attempts: delivery.attempts + outcome.attempts,
            errors: listed([...delivery.errors, ...outcome.errors]),
          },
          performance.now() - delivery.started,
        );
      },
      (error: unknown) => {
        if (delivery.settled) return;
        const failed = failureOf(error);
        delivery.attempts += failed.attempts;
        delivery.errors = listed([...delivery.errors, ...failed.errors]);
        if (failed.refused)
          return giveUp(delivery, failed.accountFull ? 'account_full' : 'refused', failed.message);
        const left = delivery.until - now();
        if (left <= 0) return giveUp(delivery, 'sessions_expired', failed.message);
        if (now() >= stopBy) return giveUp(delivery, 'shutting_down', failed.message);
        if (delivery.rounds === 0) {
          if (delayed.size >= MAX_DELAYED_SESSION_ENDS)
            return giveUp(delivery, 'too_many_delayed', failed.message);
          delayed.add(delivery);
          options.onDelayed(delivery.end, failed.message, delivery.until);
        }
        delivery.rounds++;
        // The last round comes when the sessions expire at the latest; one after that is not needed.
        // While the process stops, rounds come at least once a second until its time is up.
        const backoff = jitteredBackoff(delivery.rounds - 1, retry, random);
        const stopping = stopBy !== Number.POSITIVE_INFINITY;
        const wait = Math.min(stopping ? Math.min(backoff, STOPPING_ROUND_GAP_MS) : backoff, left);
        delivery.timer = setTimeout(() => round(r, delivery), wait);
        delivery.timer.unref();
      },
    );
  };

  /** Ends waiting for their next round run it now. */
  function runWaitingNow(): void {
    if (!reporter) return;
    for (const delivery of delayed)
      if (delivery.timer !== undefined) {
        clearTimeout(delivery.timer);
        round(reporter, delivery);
      }
  }

  /** Carries an end to the other sidecars, in rounds. */
  function carry(
    r: SessionEndReporter,
    end: SessionEnd,
    application: string,
    lifetimeMs: number,
    account: string | undefined,
  ): void {
    const delivery: Delivery = {
      end,
      application,
      account,
      until: end.before * 1000 + lifetimeMs,
      started: performance.now(),
      attempts: 0,
      errors: [],
      rounds: 0,
      timer: undefined,
      settled: false,
    };
    carried.add(delivery);
    round(r, delivery);
  }

  const ends: SessionEnds = {
    end(end, application, lifetimeMs, account) {
      file?.add(end, application, lifetimeMs, account);
      local.add(end, lifetimeMs);
      reinstall();
      if (reporter) carry(reporter, end, application, lifetimeMs, account);
    },
  };
  return {
    ends,
    local,
    /**
     * The ends an earlier run kept (`--session-ends-file`): each is enforced here again, and
     * those not handed on yet are carried again. Called once the first config is installed
     * (so that their lines name the application), before the first request.
     */
    restore(kept: readonly KeptEnd[]): void {
      for (const { end, application, lifetimeMs, account, settled } of kept) {
        local.add(end, lifetimeMs);
        if (!settled && reporter) carry(reporter, end, application, lifetimeMs, account);
      }
      reinstall();
    },
    /** Ends waiting for their next round. */
    get delayed(): number {
      return delayed.size;
    },
    /** Called by the process once it can install configs: re-installs the source's config with the local ends. */
    onReinstall(callback: () => void): void {
      reinstall = callback;
    },
    /**
     * The receiver is back (the config stream connected again): ends waiting for a round run one
     * now instead of at the end of their wait (up to 30 s).
     */
    retryNow: runWaitingNow,
    /**
     * The process stops, and gives the ends it still carries up to `withinMs` to get through:
     * those waiting for a round get one now, and a failed round is followed by another within a
     * second while time is left. Resolves once every end got through or was given up; at the
     * end of that time, each still carried is given up (`shutting_down`), its round in progress
     * included. Before, an end whose round was in progress at the stop was neither reported nor
     * given up (the process exited first), and one waiting for a round was given up without
     * another try although the stop had seconds to spare.
     */
    stop(withinMs = 0): Promise<void> {
      stopBy = now() + Math.max(0, withinMs);
      const giveUpAll = (): void => {
        for (const delivery of [...carried])
          giveUp(delivery, 'shutting_down', delivery.errors.at(-1) ?? 'the sidecar stopped during its round');
      };
      if (withinMs <= 0) giveUpAll();
      if (carried.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const deadline = setTimeout(giveUpAll, withinMs);
        whenSettled = () => {
          clearTimeout(deadline);
          whenSettled = undefined;
          resolve();
        };
        runWaitingNow();
      });
    },
  };
}
