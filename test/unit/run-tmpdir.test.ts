import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunDirectory, removeStaleRunDirectories, runDirectoryOwner } from '../helpers/run-tmpdir.ts';

/** The id of a process that has ended. */
function endedPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

describe('the test run temporary directory', () => {
  it('is TMPDIR for this worker and for the processes a test starts', () => {
    const here = tmpdir();
    // The run's main process (the worker's parent) owns it, so a later run leaves it alone while it lives.
    expect(runDirectoryOwner(basename(here))).toBe(process.ppid);
    const child = execFileSync(
      process.execPath,
      ['-e', 'process.stdout.write(require("node:os").tmpdir())'],
      {
        encoding: 'utf8',
      },
    );
    expect(child).toBe(here);
    // Open to every user as /tmp is: some tests run a process as the image's user.
    expect(statSync(here).mode & 0o7777).toBe(0o1777);
  });

  it('names its owner; other names are not run directories', () => {
    const cases: [string, number | null][] = [
      ['gatehouse-tests-4242-AbC123', 4242],
      ['gatehouse-tests-1-x', 1],
      ['gatehouse-tests-0-AbC123', null],
      ['gatehouse-tests--AbC123', null],
      ['gatehouse-tests-12ab-AbC123', null],
      ['gatehouse-test-4242-AbC123', null],
      ['gatehouse-tls-AbC123', null],
    ];
    for (const [name, owner] of cases) expect(runDirectoryOwner(name), name).toBe(owner);
  });

  it('removes the directories of runs whose process has ended, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-dirs-'));
    const gone = join(dir, `gatehouse-tests-${endedPid()}-AbC123`);
    mkdirSync(gone);
    mkdirSync(join(gone, 'inside'));
    const mine = createRunDirectory(dir);
    mkdirSync(join(dir, 'gatehouse-tls-AbC123'));
    expect(removeStaleRunDirectories(dir)).toEqual([basename(gone)]);
    expect(readdirSync(dir).sort()).toEqual([basename(mine.path), 'gatehouse-tls-AbC123'].sort());
    mine.remove();
    expect(existsSync(mine.path)).toBe(false);
    expect(dirname(mine.path)).toBe(dir);
  });
});
