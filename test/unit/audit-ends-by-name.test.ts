import { describe, expect, it } from 'vitest';
import type { AuthRecord, RequestRecord } from '../../audit/src/audit-record.ts';
import { EndsByName } from '../../audit/src/ends-by-name.ts';
import { authRecord, requestRecord } from '../helpers/audit-records.ts';

const request = (start: number): RequestRecord =>
  requestRecord(start, { identity: { kind: 'user', sub: 'ada', email: 'Ada@Example.com', idp: 'corp' } });
const end = (time: number, target: Record<string, unknown>, revocation = `rev-${time}`): AuthRecord =>
  authRecord('revocation_applied', time, { revocation, revokedBefore: time, ...target });

describe('ends by name for one user', () => {
  it.each([
    ['its session', { session: 'S1' }, true],
    ['its email, in another case', { email: 'ada@example.com' }, true],
    ['its subject', { sub: 'ada' }, true],
    ['another session', { session: 'S2' }, false],
    ['its session in another application', { session: 'S1', app: 'corp/crm' }, false],
  ])('an end naming %s joins once the user is seen: %s', (_what, target, joins) => {
    const ends = new EndsByName();
    ends.known(request(1000));
    expect(ends.offer(end(2000, target))).toBe(joins);
  });

  it('an end read before the session it names waits, once per revocation, and joins when the session is seen', () => {
    const ends = new EndsByName();
    // Three replicas log the same revocation; a second revocation of the same session too.
    for (const t of [2000, 2001, 2002])
      expect(ends.offer(end(t, { session: 'S1' }, 'session-end-a'))).toBe(false);
    expect(ends.offer(end(2500, { session: 'S1' }, 'session-end-b'))).toBe(false);
    expect(ends.waiting).toBe(2);
    const joined = ends.known(request(3000));
    expect(joined.map((e) => [e.revocation, e.time])).toEqual([
      ['session-end-a', 2000],
      ['session-end-b', 2500],
    ]);
    expect(ends.waiting).toBe(0);
    // Known now: the next one joins at once.
    expect(ends.offer(end(4000, { session: 'S1' }))).toBe(true);
  });

  it('ends waiting for the same value in other applications, or naming it as another kind, stay waiting', () => {
    const ends = new EndsByName();
    // "S1" as a session of the wiki and of the crm, and as a subject of the wiki.
    expect(ends.offer(end(2000, { session: 'S1' }, 'wiki-s1'))).toBe(false);
    expect(ends.offer(end(2001, { session: 'S1', app: 'corp/crm' }, 'crm-s1'))).toBe(false);
    expect(ends.offer(end(2002, { sub: 'S1' }, 'wiki-sub'))).toBe(false);
    // The same revocation of the crm from a second replica counts once; the wiki's is another.
    expect(ends.offer(end(2003, { session: 'S1', app: 'corp/crm' }, 'crm-s1'))).toBe(false);
    expect(ends.waiting).toBe(3);
    // Ada's request of session S1 in the wiki: the wiki's end of that session joins, no other.
    expect(ends.known(request(3000)).map((e) => e.revocation)).toEqual(['wiki-s1']);
    expect(ends.waiting).toBe(2);
    // An end that waited is forgotten with its day, whichever value it shared.
    ends.forgetBefore(2002);
    expect(ends.waiting).toBe(1);
  });

  it('ends naming what no record of the user names are forgotten once old, so memory stays bounded', () => {
    const ends = new EndsByName();
    ends.known(request(0));
    for (let i = 0; i < 10_000; i++) {
      expect(ends.offer(end(i * 1000, { session: `other-${i}` }))).toBe(false);
      if (i % 100 === 99) ends.forgetBefore(i * 1000 - 50_000);
    }
    expect(ends.waiting).toBeLessThanOrEqual(150);
  });
});
