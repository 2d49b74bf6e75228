import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/hostile.ts';
import {
  applicationYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A shared revocations directory (standalone) is written by sign-outs, back-channel logouts and
// `gatehouse revoke` of every replica, and read by all of them. Before, each poll (every second)
// read every file of it: with 8,000 files an idle sidecar spent 12% of a core on it and stalled
// its requests for 100 ms every second; a 300 MB file copied into it would have been read whole,
// every second, by every replica. Now the directory is looked into when it changed (or at a sweep
// every 30 polls), and a file over 16 MiB is skipped with a `revocation_skipped` line.

const FILES = 8_000;
let upstream: TestUpstream;
let sidecar: SidecarProcess;
let revocations: string;

function revocationYaml(name: string, user: string, application: string): string {
  return `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata:\n  name: ${name}\nspec:\n  user: ${user}\n  applications:\n    - ${application}\n  revokedBefore: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\n  reason: load\n`;
}

/** CPU time (user and system) the process has used, in clock ticks. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

beforeAll(async () => {
  upstream = await startUpstream();
  revocations = mkdtempSync(join(tmpdir(), 'gatehouse-revocations-'));
  // Sign-outs of another application sharing the directory.
  for (let i = 0; i < FILES; i++)
    writeFileSync(
      join(revocations, `r-${i}.yaml`),
      revocationYaml(`r-${i}`, `u${i}@example.com`, 'default/other'),
    );
  // A log copied in by mistake, and a named pipe: neither may stall or sink a replica.
  const copied = join(revocations, 'copied-log.json');
  writeFileSync(copied, '');
  truncateSync(copied, 300 * 1024 * 1024);
  execFileSync('mkfifo', [join(revocations, 'pipe.yaml')]);
  sidecar = await startSidecarProcess(
    writeConfigDir(applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: upstream.url } }, 'wiki')),
    ['--revocations-dir', revocations, '--poll-interval', '1s'],
  );
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
});

describe('a shared revocations directory of 8,000 files, a 300 MB file and a named pipe', () => {
  it('skips the large file with why, and costs an idle sidecar little', async () => {
    const skipped = await sidecar.waitForLine((l) => l.type === 'revocation_skipped', 5_000);
    expect(skipped).toMatchObject({
      path: join(revocations, 'copied-log.json'),
      error: expect.stringMatching(/^314572800 bytes: larger than the 16 MiB a config file may hold/),
    });
    // A change to the directory that changes no config (an editor's swap file, the replicas'
    // reports folder) is read once, not at every poll from then on.
    writeFileSync(join(revocations, '.other.yaml.swp'), '');
    writeFileSync(join(revocations, 'NOTES.txt'), 'who wrote what');
    await sleep(1_500);
    const pid = sidecar.child.pid as number;
    const before = cpuTicks(pid);
    await sleep(5_000);
    const used = cpuTicks(pid) - before;
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
    console.warn(
      `idle sidecar, ${FILES} revocation files: ${((used / hz) * 20).toFixed(1)}% of a core over 5 s`,
    );
    // Before: 12% of a core (each second's poll read all 8,000 files).
    expect(used / hz / 5).toBeLessThan(0.04);
  }, 30_000);

  it('reads a file added to it within the poll interval', async () => {
    // An AccessRevocation without its cut-off: its revocation_skipped line shows it was read.
    const file = join(revocations, 'added.yaml');
    writeFileSync(
      `${file}.tmp`,
      'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata:\n  name: added\nspec:\n  applications: [default/wiki]\n',
    );
    renameSync(`${file}.tmp`, file);
    const skipped = await sidecar.waitForLine(
      (l) => l.type === 'revocation_skipped' && String(l.path).startsWith('added.yaml'),
      3_000,
    );
    expect(skipped.error).toMatch(/revokedBefore is required/);
  }, 20_000);

  it('reads a file changed in place (the directory as it was) at once, from the name its watcher told, not at the sweep 30 polls later', async () => {
    const file = join(revocations, 'edited.yaml');
    writeFileSync(`${file}.tmp`, revocationYaml('edited', 'first@example.com', 'default/other'));
    renameSync(`${file}.tmp`, file);
    await sleep(300);
    // An analyst's editor writing over the same file (no file added or removed), leaving out its
    // cut-off: its revocation_skipped line shows it was read.
    const seen = sidecar.lines.length;
    writeFileSync(
      file,
      revocationYaml('edited', 'second@example.com', 'default/wiki').replace(/ {2}revokedBefore: .*\n/, ''),
    );
    const skipped = await sidecar.waitForLine(
      (l) => l.type === 'revocation_skipped' && String(l.path).startsWith('edited.yaml'),
      3_000,
    );
    expect(skipped.error).toMatch(/revokedBefore is required/);
    expect(sidecar.lines.indexOf(skipped)).toBeGreaterThanOrEqual(seen);
  }, 20_000);
});
