import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { REPLICAS_FOLDER, readReplicaReports, writeReplicaReport } from '../../contract/replica-reports.ts';
import { freePort } from '../helpers/control-plane.ts';
import { runGatehouse, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';

// `gatehouse revoke --revocations-dir` confirms a revocation from the reports every running
// standalone replica writes into the directory's .replicas folder: real sidecar processes of two
// applications (one signs people in, one signs nobody in) share the directory.

let configDir: string;
let dir: string;
const wiki: SidecarProcess[] = [];
let wikiPorts: number[];
let site: SidecarProcess | undefined;

const application = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'gatehouse.dev/v1alpha1',
  kind: 'AccessApplication',
  metadata: { name },
  spec: {
    hosts: ['127.0.0.1'],
    upstream: { url: 'http://127.0.0.1:9' },
    policies: [{ name: 'everyone' }],
    ...spec,
  },
});

function startReplica(app: string, port: number, more: string[] = []): Promise<SidecarProcess> {
  return startSidecarProcess(configDir, [
    '--application',
    app,
    '--listen',
    `127.0.0.1:${port}`,
    '--revocations-dir',
    dir,
    ...more,
  ]);
}

/** `gatehouse revoke … --revocations-dir <the shared directory>`. */
const revoke = (...args: string[]) => runGatehouse(['revoke', ...args, '--revocations-dir', dir]);

/** The names of the replicas in a JSON result's list. */
const named = (list: { app: string; replica: string }[]) => list.map((r) => `${r.app}@${r.replica}`).sort();

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-config-'));
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-dir-'));
  const documents = [
    application('wiki', {
      authentication: {
        externalUrl: 'http://127.0.0.1:1',
        identityProviders: [
          {
            name: 'dev',
            issuer: 'https://idp.example.com',
            clientId: 'wiki',
            clientSecretRef: { name: 'idp', key: 'secret' },
          },
        ],
      },
    }),
    application('site', {}),
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'everyone' },
      spec: { decision: 'allow', include: [{ everyone: true }] },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'idp' }, stringData: { secret: 's3cret' } },
  ];
  writeFileSync(join(configDir, 'apps.yaml'), documents.map((d) => stringify(d)).join('---\n'));
  wikiPorts = [await freePort(), await freePort()];
  for (const port of wikiPorts) wiki.push(await startReplica('wiki', port));
  site = await startReplica('site', await freePort());
  await vi.waitFor(async () => expect(await readReplicaReports(dir)).toHaveLength(3), { timeout: 10_000 });
}, 60_000);

afterAll(async () => {
  await Promise.all([...wiki, ...(site ? [site] : [])].map((s) => s.stop()));
});

describe('gatehouse revoke --revocations-dir confirmed by each running replica', () => {
  it('waits for every running replica of the covered application, and names them', async () => {
    const started = Date.now();
    const out = await revoke('--user', 'ada@example.com', '--app', 'wiki');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Applied by every running replica: 2 running replicas (default/wiki@');
    expect(Date.now() - started).toBeLessThan(5_000);
    // It returned once they said so: each has its line already.
    const name = /^(\S+)\.yaml written$/m.exec(out.stdout)?.[1]?.split('/').pop() ?? '';
    for (const replica of wiki)
      expect(replica.lines.some((l) => l.type === 'revocation_applied' && l.revocation === name)).toBe(true);
  });

  it('every application: a replica that signs nobody in has nothing to end, a stale report and a named pipe are not waited on', async () => {
    const folder = join(dir, REPLICAS_FOLDER);
    execFileSync('mkfifo', [join(folder, 'pipe.json')]);
    // A replica killed ten minutes ago, whose report nobody deleted.
    await writeReplicaReport(dir, {
      replica: 'gone:4180',
      app: 'default/wiki',
      pid: 1,
      reportedAt: new Date(Date.now() - 600_000).toISOString(),
      everyMs: 10_000,
      signsIn: true,
      revocations: [],
    });
    const out = await revoke('--user', 'bob@example.com', '--format', 'json');
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(named(result.replicas.applied)).toHaveLength(2);
    expect(named(result.replicas.withoutSessions)).toEqual([expect.stringMatching(/^default\/site@/)]);
    expect(named(result.replicas.stale)).toEqual(['default/wiki@gone:4180']);
    expect(result.replicas.pending).toEqual([]);
    expect(out.stderr).toContain('1 replica of the covered applications stopped reporting');
    expect(out.stderr).toContain('default/wiki@gone:4180 (pid 1, last report ');
  });

  it('a replica that cannot say so is named, and exits 1; --check confirms again once it is back', async () => {
    const port = await freePort();
    const doomed = await startReplica('wiki', port);
    await vi.waitFor(async () => expect(await readReplicaReports(dir)).toHaveLength(5)); // 4 and the stale one
    doomed.child.kill('SIGKILL');
    await doomed.stop();
    const out = await revoke('--user', 'eve@example.com', '--app', 'wiki', '--wait', '1s');
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('Applied by 2 of 3 running replicas.');
    const name = /--check (\S+) --revocations-dir/.exec(out.stderr)?.[1] ?? '';
    expect(out.stderr).toContain(`1 of 3 running replicas did not report it in force within 1s`);
    expect(out.stderr).toMatch(new RegExp(`default/wiki@[^ ]+:${port} \\(pid \\d+, last report `));

    // The same replica started again (same host and port) writes over its report, and confirms it.
    const back = await startReplica('wiki', port);
    try {
      const again = await revoke('--check', name);
      expect(again.stderr).not.toContain('did not report it');
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Applied by every running replica: 3 running replicas');
    } finally {
      await back.stop();
    }
    // Stopped as it should be, a replica deletes its report: nobody waits for it.
    expect((await readReplicaReports(dir)).some((r) => r.replica.endsWith(`:${port}`))).toBe(false);
  });

  it('--confirm config waits for no replica', async () => {
    const out = await revoke('--user', 'zed@example.com', '--confirm', 'config');
    expect(out.code).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout).not.toContain('Applied by');
  });

  it('a replica that cannot write its report says so once, serves, and the command says none confirmed', async () => {
    const blocked = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-blocked-'));
    writeFileSync(join(blocked, REPLICAS_FOLDER), 'a file where the folder goes');
    const replica = await startSidecarProcess(configDir, [
      '--application',
      'wiki',
      '--revocations-dir',
      blocked,
    ]);
    try {
      const failed = await replica.waitForLine((l) => l.type === 'replica_report_failed');
      expect(failed).toMatchObject({ path: `${blocked}/.replicas` });
      const out = await runGatehouse(['revoke', '--user', 'ann@example.com', '--revocations-dir', blocked]);
      expect(out.code).toBe(0);
      expect(out.stderr).toContain(`no running replica of any application reports in ${blocked}/.replicas`);
      await replica.waitForLine((l) => l.type === 'revocation_applied' && l.user === 'ann@example.com');
      expect(replica.lines.filter((l) => l.type === 'replica_report_failed')).toHaveLength(1);
    } finally {
      await replica.stop();
    }
  });
});
