import { describe, expect, it } from 'vitest';
import { type SessionEnd, sessionEndAccount } from '../../contract/session-ends.ts';
import {
  createSessionEnds,
  MAX_DELAYED_SESSION_ENDS,
  ReportFailed,
  type ReportOutcome,
  type SessionEndGivenUp,
  type SessionEndReporter,
} from '../../sidecar/src/auth/session-ends.ts';

// A session end whose report fails goes on being carried, in rounds, while a session it covers
// may still be alive: a reporter stand-in that fails as told, and waits of a few milliseconds.

const RETRY = { baseMs: 10, maxMs: 40 } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function endNow(session: string): SessionEnd {
  return { session, before: Math.floor(Date.now() / 1000), reason: 'sign_out' } as SessionEnd;
}

/** A reporter whose round `n` (from 0) does what `plan(n)` says: 'ok', 'fail' or 'refuse'. */
function plannedReporter(plan: (round: number) => 'ok' | 'fail' | 'refuse'): SessionEndReporter & {
  rounds: number;
} {
  const reporter = {
    rounds: 0,
    async report(): Promise<ReportOutcome> {
      const n = reporter.rounds++;
      const what = plan(n);
      if (what === 'ok') return { attempts: 1, errors: [] };
      throw new ReportFailed(
        what === 'refuse' ? 'operator answered 409' : 'connect ECONNREFUSED',
        6,
        Array.from({ length: 6 }, (_, i) => `round ${n} try ${i}`),
        what === 'refuse',
      );
    },
  };
  return reporter;
}

function recorder() {
  const seen = {
    reported: [] as { outcome: ReportOutcome; ms: number }[],
    delayed: [] as { error: string; until: number }[],
    givenUp: [] as { reason: SessionEndGivenUp; error: string }[],
  };
  return {
    seen,
    events: {
      onReported: (_end: SessionEnd, outcome: ReportOutcome, ms: number) =>
        seen.reported.push({ outcome, ms }),
      onDelayed: (_end: SessionEnd, error: string, until: number) => seen.delayed.push({ error, until }),
      onGivenUp: (_end: SessionEnd, reason: SessionEndGivenUp, error: string) =>
        seen.givenUp.push({ reason, error }),
    },
  };
}

/** Rounds a minute apart, so that none comes by itself within a test. */
const SLOW = { baseMs: 60_000, maxMs: 60_000 } as const;

/** Session ends over a planned reporter, with what they tell recorded. */
function sessionEndsOver(
  plan: (round: number) => 'ok' | 'fail' | 'refuse',
  options: { readonly retry?: { baseMs: number; maxMs: number }; readonly now?: () => number } = {},
) {
  const reporter = plannedReporter(plan);
  const { seen, events } = recorder();
  const ends = createSessionEnds({ reporter, retry: RETRY, random: () => 1, ...options, ...events });
  return { reporter, seen, ends };
}

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error('not in time');
    await sleep(2);
  }
}

describe('the account of a session end', () => {
  it('reaches the reporter with the end, and again with an end an earlier run kept and had not handed on', async () => {
    const accounts: (string | undefined)[] = [];
    const reporter: SessionEndReporter = {
      async report(_end, _application, account) {
        accounts.push(account);
        return { attempts: 1, errors: [] };
      },
    };
    const { events } = recorder();
    const ends = createSessionEnds({ reporter, ...events });
    const ada = sessionEndAccount('corp', 'ada');
    const hour = 3_600_000;
    ends.ends.end(endNow('session-000000000001'), 'shop/wiki', hour, ada);
    ends.ends.end(endNow('session-000000000002'), 'shop/wiki', hour);
    ends.restore([
      {
        end: endNow('session-000000000003'),
        application: 'shop/wiki',
        lifetimeMs: hour,
        account: ada,
        settled: false,
      },
    ]);
    await until(() => accounts.length === 3);
    expect(accounts).toEqual([ada, undefined, ada]);
  });
});

describe('session ends whose report fails', () => {
  it('are given up as account_full when refused as one of too many of their account, and settled in the file', async () => {
    const settled: SessionEnd[] = [];
    const { seen, events } = recorder();
    const reporter: SessionEndReporter = {
      async report() {
        throw new ReportFailed(
          'operator answered 409: {"error":"account_session_ends_full"}',
          1,
          ['409'],
          true,
          true,
        );
      },
    };
    const ends = createSessionEnds({
      reporter,
      file: { add: () => undefined, settle: (end) => settled.push(end) },
      ...events,
    });
    ends.ends.end(endNow('session-000000000009'), 'shop/wiki', 3_600_000);
    await until(() => seen.givenUp.length === 1);
    expect(seen.givenUp[0]?.reason).toBe('account_full');
    expect(settled.map((e) => e.session)).toEqual(['session-000000000009']);
  });

  it('are carried in later rounds until one gets through: delayed once, then reported with every try', async () => {
    const { reporter, seen, ends } = sessionEndsOver((n) => (n < 3 ? 'fail' : 'ok'));
    const end = endNow('s-1');
    ends.ends.end(end, 'ns/app', 3_600_000);
    await until(() => seen.reported.length === 1);
    expect(reporter.rounds).toBe(4);
    expect(seen.delayed).toEqual([{ error: 'connect ECONNREFUSED', until: end.before * 1000 + 3_600_000 }]);
    expect(seen.givenUp).toEqual([]);
    const { outcome } = seen.reported[0] as { outcome: ReportOutcome };
    expect(outcome.attempts).toBe(3 * 6 + 1);
    // 18 failed tries: all listed (20 at most: the first 10 and the last 10).
    expect(outcome.errors).toHaveLength(18);
    expect(ends.delayed).toBe(0);
  });

  it('list the first 10 and the last 10 failed tries when a report took more', async () => {
    const { seen, ends } = sessionEndsOver((n) => (n < 5 ? 'fail' : 'ok'));
    ends.ends.end(endNow('s-2'), 'ns/app', 3_600_000);
    await until(() => seen.reported.length === 1);
    const errors = seen.reported[0]?.outcome.errors ?? [];
    expect(errors).toHaveLength(20);
    expect(errors[0]).toBe('round 0 try 0');
    expect(errors.at(-1)).toBe('round 4 try 5');
  });

  it('are given up when the operator refuses one (no further round)', async () => {
    const { reporter, seen, ends } = sessionEndsOver((n) => (n === 0 ? 'fail' : 'refuse'));
    ends.ends.end(endNow('s-3'), 'ns/app', 3_600_000);
    await until(() => seen.givenUp.length === 1);
    await sleep(100);
    expect(reporter.rounds).toBe(2);
    expect(seen.givenUp).toEqual([{ reason: 'refused', error: 'operator answered 409' }]);
    expect(seen.delayed).toHaveLength(1);
    expect(ends.delayed).toBe(0);
  });

  it('stop being tried once every session they cover has expired', async () => {
    let clock = Date.now();
    const { reporter, seen, ends } = sessionEndsOver(() => 'fail', { now: () => clock });
    const end = endNow('s-4');
    ends.ends.end(end, 'ns/app', 60_000);
    await until(() => reporter.rounds >= 2);
    clock = end.before * 1000 + 60_000;
    await until(() => seen.givenUp.length === 1);
    await sleep(100);
    const rounds = reporter.rounds;
    await sleep(100);
    expect(reporter.rounds).toBe(rounds);
    expect(seen.givenUp[0]?.reason).toBe('sessions_expired');
    expect(seen.reported).toEqual([]);
  });

  it('waiting for a round run one at once when the receiver is back (retryNow)', async () => {
    let up = false;
    const { reporter, seen, ends } = sessionEndsOver(() => (up ? 'ok' : 'fail'), { retry: SLOW });
    ends.ends.end(endNow('s-back'), 'ns/app', 3_600_000);
    await until(() => seen.delayed.length === 1);
    up = true;
    ends.retryNow();
    await until(() => seen.reported.length === 1, 1_000);
    expect(reporter.rounds).toBe(2);
    expect(ends.delayed).toBe(0);
  });

  it('waiting for a round are given up when the process stops, and tried no more', async () => {
    const { reporter, seen, ends } = sessionEndsOver(() => 'fail', { retry: SLOW });
    ends.ends.end(endNow('s-5'), 'ns/app', 3_600_000);
    await until(() => seen.delayed.length === 1);
    expect(ends.delayed).toBe(1);
    await ends.stop();
    expect(seen.givenUp).toEqual([{ reason: 'shutting_down', error: 'round 0 try 5' }]);
    expect(ends.delayed).toBe(0);
    expect(reporter.rounds).toBe(1);
  });

  it(`wait at most ${MAX_DELAYED_SESSION_ENDS} at once; a further failed one is given up`, async () => {
    const { seen, ends } = sessionEndsOver(() => 'fail', { retry: SLOW });
    for (let i = 0; i <= MAX_DELAYED_SESSION_ENDS; i++)
      ends.ends.end(endNow(`s-many-${i}`), 'ns/app', 3_600_000);
    await until(() => seen.delayed.length + seen.givenUp.length === MAX_DELAYED_SESSION_ENDS + 1);
    expect(ends.delayed).toBe(MAX_DELAYED_SESSION_ENDS);
    expect(seen.givenUp.map((g) => g.reason)).toEqual(['too_many_delayed']);
    await ends.stop();
  });

  it('hold here at once, whatever their report does', () => {
    const { ends } = sessionEndsOver(() => 'fail');
    ends.ends.end(endNow('s-6'), 'ns/app', 3_600_000);
    expect(ends.local.size).toBe(1);
    void ends.stop();
  });
});

/** A reporter whose rounds each wait until the test answers them: `ok` or `fail`. */
function heldReporter(): SessionEndReporter & {
  readonly rounds: ((what: 'ok' | 'fail') => void)[];
} {
  const rounds: ((what: 'ok' | 'fail') => void)[] = [];
  return {
    rounds,
    report(): Promise<ReportOutcome> {
      return new Promise((resolve, reject) =>
        rounds.push((what) =>
          what === 'ok'
            ? resolve({ attempts: 1, errors: [] })
            : reject(new ReportFailed('operator answered 503', 1, ['operator answered 503'], false)),
        ),
      );
    },
  };
}

/** Session ends over a held reporter (rounds a minute apart, full jitter), one end begun per session id. */
function heldEnds(...sessions: string[]) {
  const reporter = heldReporter();
  const { seen, events } = recorder();
  const ends = createSessionEnds({ reporter, retry: SLOW, random: () => 1, ...events });
  for (const session of sessions) ends.ends.end(endNow(session), 'ns/app', 3_600_000);
  return { reporter, seen, ends };
}

describe('session ends still carried when the process stops', () => {
  it('a round in progress is waited for, and its end reported', async () => {
    const { reporter, seen, ends } = heldEnds('s-stop-1');
    expect(reporter.rounds).toHaveLength(1);
    let settled = false;
    const stopped = ends.stop(5_000).then(() => {
      settled = true;
    });
    await sleep(50);
    expect(settled).toBe(false);
    reporter.rounds[0]?.('ok');
    await stopped;
    expect(seen.reported).toHaveLength(1);
    expect(seen.givenUp).toEqual([]);
  });

  it('one waiting for its next round gets one at once, and another within a second of each failure, until one gets through', async () => {
    const { reporter, seen, ends } = heldEnds('s-stop-2');
    reporter.rounds[0]?.('fail');
    await until(() => seen.delayed.length === 1);
    // The next round would come a minute later (SLOW): the stop runs it now.
    const started = performance.now();
    const stopped = ends.stop(5_000);
    await until(() => reporter.rounds.length === 2, 200);
    reporter.rounds[1]?.('fail');
    await until(() => reporter.rounds.length === 3, 1_500);
    expect(performance.now() - started).toBeGreaterThan(900);
    reporter.rounds[2]?.('ok');
    await stopped;
    expect(seen.reported).toHaveLength(1);
    expect(seen.reported[0]?.outcome.attempts).toBe(3);
    expect(seen.givenUp).toEqual([]);
    expect(ends.delayed).toBe(0);
  });

  it('given up (shutting_down) when the time of the stop is up, its round in progress included; a late answer tells nothing', async () => {
    const { reporter, seen, ends } = heldEnds('s-stop-3', 's-stop-4');
    reporter.rounds[0]?.('fail');
    await until(() => seen.delayed.length === 1);
    const started = performance.now();
    await ends.stop(300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(seen.givenUp).toEqual([
      { reason: 'shutting_down', error: 'operator answered 503' },
      { reason: 'shutting_down', error: 'the sidecar stopped during its round' },
    ]);
    for (const answer of reporter.rounds) answer('ok');
    await sleep(20);
    expect(seen.reported).toEqual([]);
    expect(seen.givenUp).toHaveLength(2);
  });

  it('a stop with no time left gives up at once every end still carried', async () => {
    const { reporter, seen, ends } = heldEnds('s-stop-5');
    await ends.stop(-50);
    expect(seen.givenUp.map((g) => g.reason)).toEqual(['shutting_down']);
    reporter.rounds[0]?.('ok');
    await sleep(20);
    expect(seen.reported).toEqual([]);
  });
});
