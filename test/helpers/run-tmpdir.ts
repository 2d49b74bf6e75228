import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The prefix of a test run's temporary directory; the id of the run's main process follows it. */
export const RUN_TMP_PREFIX = 'gatehouse-tests-';

/** True while a process of that id exists (signal 0 only asks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process a run directory's name gives as its owner, or null for any other name. */
export function runDirectoryOwner(name: string): number | null {
  const match = /^gatehouse-tests-(\d+)-[^/]+$/.exec(name);
  const pid = match ? Number(match[1]) : 0;
  return pid > 0 ? pid : null;
}

/** Removes the run directories in `dir` whose owner is gone (a run killed before its end); returns their names. */
export function removeStaleRunDirectories(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const owner = runDirectoryOwner(name);
    if (owner === null || alive(owner)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * A new run directory in `dir`, owned by this process, and the function that removes it. The
 * global setup makes it TMPDIR for every worker and every process a test starts.
 */
export function createRunDirectory(dir: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(dir, `${RUN_TMP_PREFIX}${process.pid}-`));
  // As /tmp is: tests that run a process as another user (the image's 65532) reach their files.
  chmodSync(path, 0o1777);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
