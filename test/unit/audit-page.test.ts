import { describe, expect, it } from 'vitest';
import { answerQuery } from '../../audit/src/answer-query.ts';
import { AnswerTooLargeError, createPageCollector } from '../../audit/src/answer-writer.ts';
import { InputDiagnostics } from '../../audit/src/input-diagnostics.ts';
import type { LogSource } from '../../audit/src/log-sources.ts';
import { requestLine } from '../helpers/log-lines.ts';

// An HTML page needs its whole answer before it is written. Past what a page can show it is not
// an answer but a question to narrow: the reading stops there, instead of holding every request of
// a month (the 1M-line corpus made a 678 MB page).

const ALL_TIME = { since: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
const DAYS = 30;
const PER_DAY = 300;

/** One sidecar's log: a session a day of PER_DAY requests, days apart. */
function month(): LogSource {
  const lines: string[] = [];
  for (let day = 0; day < DAYS; day++)
    for (let n = 0; n < PER_DAY; n++) {
      const at = new Date(Date.UTC(2026, 10, 1 + day, 9, 0, 0, n * 100)).toISOString();
      lines.push(
        requestLine({
          start: at,
          end: at,
          requestId: `d${day}-r${n}`,
          uri: `/day-${day}/${n}`,
          identity: { kind: 'user', sub: 'ada', email: 'ada@example.com', idp: 'corp' },
          sessionId: `S-${day}`,
        }),
      );
    }
  return {
    name: 'month.log',
    order: 'written',
    // Chunks of a day each, as a file is read a chunk at a time.
    async open() {
      return (async function* () {
        for (let day = 0; day < DAYS; day++)
          yield Buffer.from(`${lines.slice(day * PER_DAY, (day + 1) * PER_DAY).join('\n')}\n`);
      })();
    },
  };
}

describe('the answer of an HTML page', () => {
  it.each([
    ['sessions', { kind: 'sessions' as const, range: ALL_TIME }],
    ['requests', { kind: 'requests' as const, range: ALL_TIME, path: '/*' }],
  ])('%s: past the limit the reading stops with AnswerTooLargeError', async (_, query) => {
    const page = createPageCollector(2_000);
    const diagnostics = new InputDiagnostics();
    await expect(
      answerQuery(query, [month()], undefined, {
        onSession: page.onSession,
        onRequest: page.onRequest,
        pause: page.pause,
        diagnostics,
      }),
    ).rejects.toThrow(AnswerTooLargeError);
    expect(page.tooLarge()?.message).toMatch(
      /^the answer holds more than 2,000 requests \(\d,\d{3} so far\)/,
    );
    // Answers are taken every 4,096 lines: stopped at the first such time past the limit, not at the end.
    expect(diagnostics.lines).toBeLessThan(DAYS * PER_DAY);
  });

  it('within the limit: the whole answer, as without the collector', async () => {
    const query = { kind: 'sessions' as const, range: ALL_TIME };
    const page = createPageCollector(DAYS * PER_DAY);
    const collected = await answerQuery(query, [month()], undefined, {
      onSession: page.onSession,
      pause: page.pause,
    });
    expect(page.tooLarge()).toBeUndefined();
    const whole = await answerQuery(query, [month()]);
    expect(page.answer(collected.answer)).toEqual(whole.answer);
  });
});
