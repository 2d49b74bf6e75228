import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { REPLICAS_FOLDER, readReplicaReports } from '../../contract/replica-reports.ts';
import { revocationOf } from '../../sidecar/src/auth/local-revocations.ts';
import { createReplicaReporter } from '../../sidecar/src/config/replica-reporter.ts';
import { testConfig } from '../helpers/fixtures.ts';

const base = testConfig();

/** A config with these revocations in force, signing people in or not. */
function configWith(names: readonly string[], signsIn = true): SidecarConfig {
  const revocation = (name: string) => ({
    name,
    user: 'a@b.c',
    subject: null,
    provider: null,
    before: 1_700_000_000,
    reason: null,
  });
  const ownEnd = revocationOf({ session: 'Qx7_k2-9aZbC3dEfGh1', before: 1_700_000_000, reason: 'sign-out' });
  return {
    ...base,
    revocations: [...names.map(revocation), ownEnd],
    auth: { ...base.auth, providers: signsIn ? [{} as SidecarConfig['auth']['providers'][number]] : [] },
  };
}

describe('a standalone replica’s report', () => {
  it('is written once it listens, again when the revocations in force change, and deleted when it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reporter-'));
    const reporter = createReplicaReporter({
      directory: dir,
      onError: (e) => expect.fail(e.message),
      everyMs: 60_000,
    });
    reporter.installed(configWith(['r-1']));
    expect(await readReplicaReports(dir)).toEqual([]); // not listening yet
    reporter.start('host-a:4180');
    await vi.waitFor(async () => expect((await readReplicaReports(dir)).length).toBe(1));
    const [first] = await readReplicaReports(dir);
    // Its own sign-outs are not listed: nobody waits for them, and a busy application has thousands.
    expect(first).toMatchObject({
      replica: 'host-a:4180',
      app: `default/${base.application.name}`,
      pid: process.pid,
      everyMs: 60_000,
      signsIn: true,
      revocations: ['r-1'],
    });
    reporter.installed(configWith(['r-1', 'r-2']));
    reporter.installed(configWith(['r-1', 'r-2', 'r-3']));
    await vi.waitFor(async () =>
      expect((await readReplicaReports(dir))[0]?.revocations).toEqual(['r-1', 'r-2', 'r-3']),
    );
    reporter.installed(configWith(['r-3'], false));
    await vi.waitFor(async () =>
      expect((await readReplicaReports(dir))[0]).toMatchObject({ signsIn: false }),
    );
    await reporter.stop();
    expect(await readReplicaReports(dir)).toEqual([]);
  });

  it('is written again every interval while nothing changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reporter-'));
    const reporter = createReplicaReporter({
      directory: dir,
      onError: (e) => expect.fail(e.message),
      everyMs: 100,
    });
    reporter.installed(configWith([]));
    reporter.start('host-a:4180');
    await vi.waitFor(async () => expect((await readReplicaReports(dir)).length).toBe(1));
    const at = (await readReplicaReports(dir))[0]?.reportedAt ?? '';
    await vi.waitFor(async () => expect((await readReplicaReports(dir))[0]?.reportedAt).not.toBe(at));
    await reporter.stop();
  });

  it('a stop is not held by a write that never ends (a directory whose server is gone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reporter-'));
    let started = 0;
    const reporter = createReplicaReporter({
      directory: dir,
      onError: (e) => expect.fail(e.message),
      write: () => {
        started++;
        return new Promise<void>(() => undefined);
      },
    });
    reporter.installed(configWith([]));
    reporter.start('host-a:4180');
    expect(started).toBe(1);
    const at = performance.now();
    await reporter.stop();
    expect(performance.now() - at).toBeGreaterThanOrEqual(900);
    expect(performance.now() - at).toBeLessThan(3_000);
  });

  it('says once that it cannot write, and again after a write that worked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reporter-'));
    writeFileSync(join(dir, REPLICAS_FOLDER), 'a file where the folder goes');
    const errors: string[] = [];
    const reporter = createReplicaReporter({
      directory: dir,
      onError: (e) => errors.push(e.message),
      everyMs: 100,
    });
    reporter.installed(configWith([]));
    reporter.start('host-a:4180');
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    // Written again every 100 ms, failing each time: still said once.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/EEXIST|ENOTDIR/);
    unlinkSync(join(dir, REPLICAS_FOLDER));
    await vi.waitFor(async () => expect((await readReplicaReports(dir)).length).toBe(1));
    rmSync(join(dir, REPLICAS_FOLDER), { recursive: true });
    writeFileSync(join(dir, REPLICAS_FOLDER), 'and again');
    // Said again (a write in progress as the folder went may fail on its own first).
    await vi.waitFor(() => {
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(errors.at(-1)).toMatch(/EEXIST|ENOTDIR/);
    });
    const count = errors.length;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(errors).toHaveLength(count);
    await reporter.stop();
  });
});
