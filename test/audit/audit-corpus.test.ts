import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerQuery } from '../../audit/src/answer-query.ts';
import { parseAuditLine, type RequestRecord } from '../../audit/src/audit-record.ts';
import { fileSources } from '../../audit/src/log-sources.ts';
import { ALL_TIME } from '../../audit/src/queries.ts';
import type { Session } from '../../audit/src/sessions.ts';
import { type Corpus, generateCorpus, type TruthSession } from '../helpers/audit-corpus.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

const dir = join(tmpdir(), `gatehouse-audit-corpus-${process.pid}`);
let corpus: Corpus;

/** The parts of a rebuilt session the ground truth fixes. */
function shape(s: Session) {
  return {
    app: s.app,
    sessionId: s.sessionId,
    email: s.email,
    sub: s.sub,
    provider: s.provider,
    loginTime: s.login?.time ?? null,
    requestIds: s.requests.map((r) => r.requestId),
    ips: s.ips,
    userAgents: s.userAgents,
    end: s.end ? { kind: s.end.kind, time: s.end.time } : null,
    changes: s.anomalies.filter((a) => a.kind !== 'denial_burst').map((a) => a.kind),
  };
}

function truthShape(t: TruthSession) {
  return {
    app: t.app,
    sessionId: t.sessionId,
    email: t.email,
    sub: t.sub,
    provider: t.provider,
    loginTime: t.loginTime,
    requestIds: t.requestIds,
    ips: t.ips,
    userAgents: t.userAgents,
    end: t.end,
    changes: t.anomalies.filter((a) => a !== 'denial_burst'),
  };
}

beforeAll(() => {
  corpus = generateCorpus({ dir, lines: 1_000_000, users: 1_100 });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gatehouse audit on a 1M-line corpus with known ground truth', () => {
  it('the corpus is what the acceptance asks: ≥ 1M lines, ≥ 1,000 users, sessions interleaved over sidecars and applications', () => {
    expect(corpus.lines).toBeGreaterThanOrEqual(1_000_000);
    expect(new Set(corpus.truth.map((t) => t.email)).size).toBeGreaterThanOrEqual(1_000);
    expect(new Set(corpus.truth.map((t) => t.app)).size).toBe(8);
    expect(corpus.files).toHaveLength(24);
    // A session's requests are spread over the files of its application's sidecars.
    const first = corpus.truth[0] as TruthSession;
    const holding = corpus.files.filter((f) => readFileSync(f, 'utf8').includes(first.sessionId));
    expect(holding.length).toBeGreaterThan(1);
  });

  it('rebuilds every session exactly: requests in order, login, IPs, user agents, end, changes', async () => {
    const { answer, lines } = await answerQuery(
      { kind: 'sessions', range: ALL_TIME },
      fileSources(corpus.files),
    );
    expect(lines).toBe(corpus.lines);
    if (answer.kind !== 'sessions') throw new Error('expected sessions');
    expect(answer.sessions.length).toBe(corpus.truth.length);
    const rebuilt = new Map(answer.sessions.map((s) => [`${s.app} ${s.sessionId}`, s]));
    let mismatches = 0;
    for (const t of corpus.truth) {
      const s = rebuilt.get(`${t.app} ${t.sessionId}`);
      if (!s) throw new Error(`session ${t.sessionId} of ${t.email} not rebuilt`);
      const same = JSON.stringify(shape(s)) === JSON.stringify(truthShape(t));
      if (!same && mismatches++ === 0) expect(shape(s)).toEqual(truthShape(t));
      // Every injected burst of denials is flagged.
      if (t.anomalies.includes('denial_burst'))
        expect(s.anomalies.some((a) => a.kind === 'denial_burst')).toBe(true);
    }
    expect(mismatches).toBe(0);
  }, 120_000);

  it('answers one user through the CLI (JSON), matching the ground truth for that user', async () => {
    const email = corpus.users[7] as string;
    const { code, stdout, stderr } = await runGatehouse([
      'audit',
      'sessions',
      '--user',
      email,
      '--format',
      'json',
      ...corpus.files,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const sessions = JSON.parse(stdout) as (Omit<Session, 'requests' | 'login' | 'end'> & {
      requests: { requestId: string }[];
      login: { time: string } | null;
      end: { kind: string; time: string } | null;
    })[];
    const expected = corpus.truth.filter((t) => t.email === email);
    expect(sessions.map((s) => s.sessionId).sort()).toEqual(expected.map((t) => t.sessionId).sort());
    for (const s of sessions) {
      const t = expected.find((x) => x.sessionId === s.sessionId) as TruthSession;
      expect(s.requests.map((r) => r.requestId)).toEqual(t.requestIds);
      expect(Date.parse(s.login?.time ?? '')).toBe(t.loginTime);
      expect(s.ips).toEqual(t.ips);
      expect(s.end ? { kind: s.end.kind, time: Date.parse(s.end.time) } : null).toEqual(t.end);
    }
  }, 60_000);

  it('finds every user seen from an address, and every request to a path of an application, as a naive full parse does', async () => {
    const t = corpus.truth.find((x) => x.ips.length > 1) as TruthSession;
    const ip = t.ips[1] as string;
    const naive: RequestRecord[] = [];
    const usersAtIp = new Set<string>();
    const app = 'team-1/app-4';
    for (const file of corpus.files) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const record = parseAuditLine(line);
        if (record?.kind !== 'request') continue;
        if (record.clientIp === ip) usersAtIp.add(record.identity?.email ?? '(anonymous)');
        if (record.app === app && record.uri.startsWith('/admin/')) naive.push(record);
      }
    }
    const byIp = await answerQuery(
      { kind: 'ip', ip, endpoint: null, range: ALL_TIME },
      fileSources(corpus.files),
    );
    if (byIp.answer.kind !== 'ip') throw new Error('expected users');
    expect(byIp.answer.users.map((u) => u.user).sort()).toEqual([...usersAtIp].sort());
    expect(byIp.answer.users.map((u) => u.user)).toContain(t.email);

    const toPath = await answerQuery(
      { kind: 'requests', path: '/admin/*', app, range: ALL_TIME },
      fileSources(corpus.files),
    );
    if (toPath.answer.kind !== 'requests') throw new Error('expected requests');
    expect(toPath.answer.requests.map((r) => r.requestId).sort()).toEqual(
      naive.map((r) => r.requestId).sort(),
    );
    expect(toPath.answer.requests.length).toBeGreaterThan(100);
  }, 120_000);
});
