import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SessionEnd, sessionEndAccount } from '../../contract/session-ends.ts';
import { MAX_KEPT_ENDS, openSessionEndsFile, SPARE_LINES } from '../../sidecar/src/auth/session-ends-file.ts';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 5, 12);
const now = () => NOW;
const fresh = () => join(mkdtempSync(join(tmpdir(), 'gatehouse-ends-')), 'session-ends.jsonl');
const signOut = (n: number, before = NOW / 1000 - 60): SessionEnd => ({
  session: `session-${String(n).padStart(10, '0')}`,
  before,
  reason: 'logout',
});
const noErrors = (error: Error) => {
  throw error;
};
const lineCount = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).length;

describe('the session ends file', () => {
  it('keeps each end and whether it got through, across a reopen (a restart)', () => {
    const path = fresh();
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    expect(file.kept).toEqual({ ends: [], skippedLines: 0 });
    file.add(signOut(1), 'shop/wiki', 12 * HOUR);
    file.add(
      { subject: 'ada', provider: 'corp', before: NOW / 1000, reason: 'backchannel' },
      'shop/wiki',
      HOUR,
    );
    file.settle(signOut(1));
    // No close: a killed process does not close its files; what was written is there.
    const again = openSessionEndsFile(path, { now, onError: noErrors });
    expect(again.kept).toEqual({
      ends: [
        { end: signOut(1), application: 'shop/wiki', lifetimeMs: 12 * HOUR, settled: true },
        {
          end: { subject: 'ada', provider: 'corp', before: NOW / 1000, reason: 'backchannel' },
          application: 'shop/wiki',
          lifetimeMs: HOUR,
          settled: false,
        },
      ],
      skippedLines: 0,
    });
  });

  it('keeps the account beside each end across a reopen; a line of an earlier version (none) reads as before, and a malformed one is left out', () => {
    const path = fresh();
    const account = sessionEndAccount('corp', 'ada');
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    file.add(signOut(1), 'shop/wiki', HOUR, account);
    file.add(signOut(2), 'shop/wiki', HOUR);
    appendFileSync(
      path,
      `${JSON.stringify({ end: signOut(3), application: 'shop/wiki', lifetimeMs: HOUR, account: 'ADA' })}\n`,
    );
    // Beside the end, so a sidecar of an earlier version, which knows no account, reads the end.
    expect(JSON.parse(readFileSync(path, 'utf8').split('\n')[0] as string).end).toEqual(signOut(1));
    const again = openSessionEndsFile(path, { now, onError: noErrors });
    expect(again.kept.ends.map((e) => [e.end.session, e.account])).toEqual([
      [signOut(1).session, account],
      [signOut(2).session, undefined],
      [signOut(3).session, undefined],
    ]);
    expect(again.kept.skippedLines).toBe(0);
  });

  it('forgets at open the ends no session can outlive any more, and writes the file anew without them', () => {
    const path = fresh();
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    file.add(signOut(1, NOW / 1000 - 2 * 3600), 'shop/wiki', HOUR); // expired an hour ago
    file.add(signOut(2), 'shop/wiki', HOUR);
    file.close();
    const again = openSessionEndsFile(path, { now, onError: noErrors });
    expect(again.kept.ends.map((k) => k.end.session)).toEqual([signOut(2).session]);
    expect(lineCount(path)).toBe(1);
  });

  it('skips a line cut short (killed mid-write) and lines that are not an end, and keeps the rest', () => {
    const path = fresh();
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    file.add(signOut(1), 'shop/wiki', HOUR);
    file.close();
    appendFileSync(
      path,
      [
        JSON.stringify({
          end: { session: 'short', before: 1, reason: 'x' },
          application: 'a',
          lifetimeMs: HOUR,
        }),
        JSON.stringify({ end: { ...signOut(3), subject: 'two-keys' }, application: 'a', lifetimeMs: HOUR }),
        JSON.stringify({ end: { ...signOut(4), extra: 1 }, application: 'a', lifetimeMs: HOUR }),
        JSON.stringify({ end: signOut(5), application: 'a', lifetimeMs: -1 }),
        JSON.stringify({
          end: { ...signOut(7), session: 'session with spaces 0' },
          application: 'a',
          lifetimeMs: HOUR,
        }),
        '[]',
        '{"end":{"session":"session-0000000002","before":1',
      ].join('\n'),
    );
    const again = openSessionEndsFile(path, { now, onError: noErrors });
    expect(again.kept.skippedLines).toBe(7);
    expect(again.kept.ends.map((k) => k.end.session)).toEqual([signOut(1).session]);
    // The file is written anew with what counts: the cut line is gone, an end appended after it is whole.
    again.add(signOut(6), 'shop/wiki', HOUR);
    expect(openSessionEndsFile(path, { now, onError: noErrors }).kept).toMatchObject({
      ends: [{ end: signOut(1) }, { end: signOut(6) }],
      skippedLines: 0,
    });
  });

  it('stays bounded: at most 10,000 ends (the latest), the file written anew past its spare lines', () => {
    const path = fresh();
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    let most = 0;
    for (let i = 0; i < 30_000; i++) {
      file.add(signOut(i), 'shop/wiki', HOUR);
      if (i % 2 === 0) file.settle(signOut(i));
      if (i % 1_000 === 0) most = Math.max(most, lineCount(path));
    }
    expect(most).toBeLessThanOrEqual(2 * MAX_KEPT_ENDS + SPARE_LINES);
    const kept = openSessionEndsFile(path, { now, onError: noErrors }).kept.ends;
    expect(kept).toHaveLength(MAX_KEPT_ENDS);
    expect(kept[0]?.end.session).toBe(signOut(20_000).session);
    expect(kept.at(-1)).toMatchObject({ end: signOut(29_999), settled: false });
    expect(kept.at(-2)).toMatchObject({ end: signOut(29_998), settled: true });
  });

  it('with the longest ends the sidecar makes, the file and its new copy stay within the 32 MiB emptyDir of injected pods', () => {
    const path = fresh();
    const file = openSessionEndsFile(path, { now, onError: noErrors });
    const app = `${'n'.repeat(63)}/${'a'.repeat(189)}`;
    let most = 0;
    for (let i = 0; i < 24_000; i++) {
      const end: SessionEnd = {
        providerSession: `${String(i).padStart(8, '0')}${'p'.repeat(247)}`,
        provider: 'x'.repeat(63),
        before: NOW / 1000,
        reason: 'back-channel logout',
      };
      file.add(end, app, HOUR, sessionEndAccount(end.provider as string, 's'.repeat(255)));
      file.settle(end);
      if (i % 500 === 0) most = Math.max(most, statSync(path).size);
    }
    // The file and, while it is written anew, its new copy: both within the volume's limit.
    expect(most).toBeLessThan(10 * 1024 * 1024);
    expect(2 * most).toBeLessThan(32 * 1024 * 1024);
  });

  it('a path it cannot use fails the open; a later failure to write the file anew is told and the end appended all the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ends-'));
    expect(() => openSessionEndsFile(dir, { now, onError: noErrors })).toThrow(/EISDIR/);
    const path = join(dir, 'session-ends.jsonl');
    const errors: string[] = [];
    const file = openSessionEndsFile(path, {
      now,
      onError: (e) => errors.push(String((e as NodeJS.ErrnoException).code)),
    });
    mkdirSync(`${path}.new`); // where the file is written anew: now it cannot be
    for (let i = 0; i <= SPARE_LINES; i++) file.add(signOut(i), 'shop/wiki', HOUR);
    expect(errors).toEqual(['EISDIR']);
    expect(lineCount(path)).toBe(SPARE_LINES + 1);
  });
});
