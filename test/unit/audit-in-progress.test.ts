import { describe, expect, it } from 'vitest';
import { parseAuditLine, type RequestRecord } from '../../audit/src/audit-record.ts';
import { type AuditQuery, createQueryRunner } from '../../audit/src/queries.ts';
import { SessionBuilder } from '../../audit/src/sessions.ts';
import { requestRecord } from '../helpers/audit-records.ts';

// A request in progress is in the logs as `request_in_progress` lines until its request line comes
// (or never, when its sidecar was killed). The audit shows it once: by its request line when the
// logs have it, else as it last stood.

const everything = { since: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };
const requestsQuery: AuditQuery = { kind: 'requests', range: everything };

/** The stream `r-stream` that began at 1,000: in progress at `at`, or its request line ending at `at`. */
const progress = (at: number): RequestRecord =>
  requestRecord(1_000, {
    requestId: 'r-stream',
    uri: '/feed',
    end: at,
    outcome: 'in_progress',
    inProgress: true,
  });
const final = (at: number): RequestRecord =>
  requestRecord(1_000, { requestId: 'r-stream', uri: '/feed', end: at });
const other = requestRecord(2_000);

/** The requests a requests query answers for these records, in this order. */
function requestsFor(records: readonly RequestRecord[]): RequestRecord[] {
  const runner = createQueryRunner(requestsQuery);
  for (const r of records) runner.add(r);
  const answer = runner.answer();
  return answer.kind === 'requests' ? [...answer.requests] : [];
}

/** The requests of the one session these records make. */
function sessionRequestsFor(records: readonly RequestRecord[]): RequestRecord[] {
  const builder = new SessionBuilder();
  for (const r of records) builder.add(r);
  const sessions = builder.sessions();
  expect(sessions).toHaveLength(1);
  return [...(sessions[0]?.requests ?? [])];
}

describe('requests in progress in the audit', () => {
  it('reads a request_in_progress line as the request so far', () => {
    const record = parseAuditLine(
      JSON.stringify({
        type: 'request_in_progress',
        time: '2026-12-06T10:01:00.000Z',
        app: 'corp/wiki',
        requestId: 'r-stream',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        seq: 7,
        host: 'wiki.example.com',
        method: 'GET',
        uri: '/feed',
        status: 200,
        start: '2026-12-06T10:00:00.000Z',
        elapsedMs: 60_000,
        bytesIn: 300,
        bytesOut: 12_000,
        clientIp: '192.0.2.1',
        identity: { kind: 'user', sub: 'ada', email: 'ada@example.com', idp: 'corp' },
        sessionId: 'S1',
        authMethod: 'oidc',
        upgrade: false,
      }),
    );
    expect(record).toMatchObject({
      kind: 'request',
      inProgress: true,
      outcome: 'in_progress',
      start: Date.parse('2026-12-06T10:00:00.000Z'),
      end: Date.parse('2026-12-06T10:01:00.000Z'),
      durationMs: 60_000,
      bytesOut: 12_000,
      sessionId: 'S1',
      status: 200,
    });
  });

  it.each([
    [
      'in time order: in progress, in progress, its request line',
      [progress(61_000), progress(121_000), final(150_000)],
    ],
    [
      'its request line first (input out of time order)',
      [final(150_000), progress(61_000), progress(121_000)],
    ],
    ['between its in-progress lines', [progress(61_000), final(150_000), progress(121_000)]],
  ])('%s: the request line alone, once', (_, records) => {
    for (const answer of [requestsFor([...records, other]), sessionRequestsFor([...records, other])]) {
      expect(answer.map((r) => [r.requestId, r.outcome, r.end])).toEqual([
        ['r-stream', 'served', 150_000],
        [other.requestId, 'served', other.end],
      ]);
    }
  });

  it('no request line (its sidecar killed): the latest in-progress line, once', () => {
    for (const answer of [
      requestsFor([progress(61_000), other, progress(121_000)]),
      sessionRequestsFor([progress(121_000), other, progress(61_000)]),
    ]) {
      expect(answer.map((r) => [r.requestId, r.outcome, r.end])).toEqual([
        ['r-stream', 'in_progress', 121_000],
        [other.requestId, 'served', other.end],
      ]);
    }
  });

  it('a session whose only activity is a stream in progress: active until its latest line', () => {
    const builder = new SessionBuilder();
    builder.add(progress(61_000));
    builder.add(progress(121_000));
    const [session] = builder.sessions();
    expect(session).toMatchObject({ first: 1_000, last: 121_000 });
    expect(session?.requests).toHaveLength(1);
  });

  it('an address query counts the request once, by its request line', () => {
    const runner = createQueryRunner({ kind: 'ip', ip: '192.0.2.1', endpoint: null, range: everything });
    for (const r of [progress(61_000), progress(121_000), final(150_000)]) runner.add(r);
    const answer = runner.answer();
    expect(answer.kind === 'ip' ? answer.users.map((u) => u.requests) : []).toEqual([1]);
  });
});
