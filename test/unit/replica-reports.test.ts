import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forgetOldReplicaReports,
  isStale,
  parseReplicaReport,
  REPLICAS_FOLDER,
  type ReplicaReport,
  readReplicaReports,
  replicaReportFile,
  writeReplicaReport,
} from '../../contract/replica-reports.ts';
import { SESSION_END_NAME, sessionEndRevocationName } from '../../contract/session-ends.ts';
import { sortReplicas } from '../../operator/src/cli/revocation-replicas.ts';
import { revocationNamePrefix } from '../../operator/src/cli/revoke-flags.ts';
import { revocationOf } from '../../sidecar/src/auth/local-revocations.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');

function report(overrides: Partial<ReplicaReport> = {}): ReplicaReport {
  return {
    replica: 'host-a:4180',
    app: 'default/wiki',
    pid: 42,
    reportedAt: new Date(NOW - 1_000).toISOString(),
    everyMs: 10_000,
    signsIn: true,
    revocations: ['alice-example-com-0a1b2c3d4e'],
    ...overrides,
  };
}

describe('a replica report as read', () => {
  it.each([
    ['a whole one', JSON.stringify(report()), true],
    ['not JSON', '{"replica":', false],
    ['not an object', '[]', false],
    ['null', 'null', false],
    ['no replica', JSON.stringify({ ...report(), replica: undefined }), false],
    ['a numeric app', JSON.stringify({ ...report(), app: 7 }), false],
    ['a time that is none', JSON.stringify(report({ reportedAt: 'yesterday' })), false],
    ['no interval', JSON.stringify(report({ everyMs: 0 })), false],
    ['a negative interval', JSON.stringify(report({ everyMs: -5 })), false],
    [
      'an interval of a day (it would stand for a running replica for days)',
      JSON.stringify(report({ everyMs: 86_400_000 })),
      false,
    ],
    ['an interval that is no whole number', JSON.stringify(report({ everyMs: 10.5 })), false],
    ['no process', JSON.stringify(report({ pid: 0 })), false],
    [
      'more names than a report lists',
      JSON.stringify(report({ revocations: Array.from({ length: 2_001 }, (_, i) => `r-${i}`) })),
      false,
    ],
    ['signsIn as text', JSON.stringify({ ...report(), signsIn: 'yes' }), false],
    ['names that are not text', JSON.stringify({ ...report(), revocations: [1] }), false],
    ['names not a list', JSON.stringify({ ...report(), revocations: 'a' }), false],
    [
      'a replica name with a terminal escape',
      JSON.stringify(report({ replica: 'h:1\u001b]0;x\u0007' })),
      false,
    ],
    ['an application name with a space', JSON.stringify(report({ app: 'default/wiki now' })), false],
    ['an empty replica name', JSON.stringify(report({ replica: '' })), false],
  ])('%s', (_what, text, valid) => {
    expect(parseReplicaReport(text) !== undefined).toBe(valid);
  });

  it('keeps only its own fields', () => {
    expect(parseReplicaReport(JSON.stringify({ ...report(), extra: 'x'.repeat(10) }))).toEqual(report());
  });

  it.each([
    ['default/wiki', 'host-a:4180', 'default_wiki@host-a_4180.json'],
    ['team/app', '[::1]:80', 'team_app@___1__80.json'],
    ['a/b', '../../etc/passwd', 'a_b@.._.._etc_passwd.json'],
  ])('%s on %s is written as %s', (app, replica, file) => {
    expect(replicaReportFile(app, replica)).toBe(file);
  });

  it('is stale after three of its intervals and five seconds', () => {
    const at = (ms: number) => report({ reportedAt: new Date(NOW - ms).toISOString() });
    expect(isStale(at(35_000), NOW)).toBe(false);
    expect(isStale(at(35_001), NOW)).toBe(true);
  });
});

describe('the reports in a directory', () => {
  it('reads the reports and leaves out what is none, without waiting on a named pipe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    await writeReplicaReport(dir, report());
    await writeReplicaReport(dir, report({ replica: 'host-b:4180', revocations: [] }));
    const folder = join(dir, REPLICAS_FOLDER);
    writeFileSync(join(folder, 'broken.json'), '{"replica":');
    writeFileSync(join(folder, 'huge.json'), JSON.stringify(report({ replica: 'x'.repeat(300_000) })));
    writeFileSync(join(folder, 'notes.txt'), JSON.stringify(report({ replica: 'txt:1' })));
    writeFileSync(join(folder, '.hidden.json'), JSON.stringify(report({ replica: 'hidden:1' })));
    mkdirSync(join(folder, 'folder.json'));
    execFileSync('mkfifo', [join(folder, 'pipe.json')]);
    const found = await readReplicaReports(dir);
    expect(found.map((r) => r.replica).sort()).toEqual(['host-a:4180', 'host-b:4180']);
    expect(readdirSync(folder).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('is written past a named pipe planted where a temporary file of it could be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    const folder = join(dir, REPLICAS_FOLDER);
    mkdirSync(folder);
    const file = replicaReportFile('default/wiki', 'host-a:4180');
    for (const name of [`.${file}.tmp`, `.${file}.${process.pid}.tmp`])
      execFileSync('mkfifo', [join(folder, name)]);
    const written = writeReplicaReport(dir, report());
    const late = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('blocked on the pipe')), 2_000),
    );
    await Promise.race([written, late]);
    expect((await readReplicaReports(dir)).map((r) => r.replica)).toEqual(['host-a:4180']);
  });

  it('has none when no replica wrote one, or a file stands where the folder would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    expect(await readReplicaReports(dir)).toEqual([]);
    writeFileSync(join(dir, REPLICAS_FOLDER), 'not a folder');
    expect(await readReplicaReports(dir)).toEqual([]);
  });

  it('forgets reports nobody wrote for a day, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    await writeReplicaReport(
      dir,
      report({ replica: 'old:1', reportedAt: new Date(NOW - 86_400_001).toISOString() }),
    );
    await writeReplicaReport(
      dir,
      report({ replica: 'young:1', reportedAt: new Date(NOW - 86_399_000).toISOString() }),
    );
    expect(await forgetOldReplicaReports(dir, NOW)).toBe(1);
    expect((await readReplicaReports(dir)).map((r) => r.replica)).toEqual(['young:1']);
  });
});

describe('which replicas confirm a revocation', () => {
  const name = 'alice-example-com-0a1b2c3d4e';
  const reports = [
    report({ replica: 'b:1' }),
    report({ replica: 'a:1' }),
    report({ replica: 'c:1', revocations: [] }),
    report({ replica: 'old:1', reportedAt: new Date(NOW - 60_000).toISOString(), revocations: [] }),
    report({ replica: 's:1', app: 'default/static', signsIn: false, revocations: [] }),
    report({ replica: 'o:1', app: 'team/other', revocations: [] }),
  ];
  const names = (list: readonly ReplicaReport[]) => list.map((r) => `${r.app}@${r.replica}`);

  it('every application', () => {
    const sorted = sortReplicas(reports, name, () => true, NOW);
    expect(names(sorted.applied)).toEqual(['default/wiki@a:1', 'default/wiki@b:1']);
    expect(names(sorted.pending)).toEqual(['default/wiki@c:1', 'team/other@o:1']);
    expect(names(sorted.withoutSessions)).toEqual(['default/static@s:1']);
    expect(names(sorted.stale)).toEqual(['default/wiki@old:1']);
  });

  it('the covered applications only', () => {
    const sorted = sortReplicas(reports, name, (app) => app === 'team/other', NOW);
    expect(names(sorted.pending)).toEqual(['team/other@o:1']);
    expect([...sorted.applied, ...sorted.withoutSessions, ...sorted.stale]).toEqual([]);
  });
});

describe('the names of session ends', () => {
  it('match what sidecars and the operator name them, and never what gatehouse revoke names', () => {
    const end = { session: 'Qx7_k2-9aZbC3dEfGh1', before: 1_700_000_000, reason: 'sign-out' } as const;
    expect(revocationOf(end).name).toMatch(SESSION_END_NAME);
    expect(sessionEndRevocationName(end, 'default/wiki')).toMatch(SESSION_END_NAME);
    for (const who of ['session-end', 'session end', 'session-end-0123456789abcdef', 'a@b.c'])
      expect(`${revocationNamePrefix(who)}0a1b2c3d4e`).not.toMatch(SESSION_END_NAME);
  });
});
