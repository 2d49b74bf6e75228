import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PRUNE_EVERY_MS,
  pruneRevocationFiles,
  writeRevocationFile,
} from '../../contract/revocation-files.ts';

// The files of a shared revocations directory are deleted once their noted expiry has passed.
// Every write asked for that, and it read every file whole: a named pipe put there blocked the
// next sign-out of every replica for ever.

const NOW = Date.parse('2026-12-06T12:00:00Z');
const noted = (expires: string) =>
  `# Written by Gatehouse; deleted after it expires.\n# expires ${expires}\nkind: AccessRevocation\n`;

describe('pruning a revocations directory', () => {
  it('deletes the expired files only, reads a large one only at its head, and does not wait on a pipe', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
    writeFileSync(join(dir, 'old.yaml'), noted('2026-12-06T11:00:00.000Z'));
    writeFileSync(join(dir, 'new.yaml'), noted('2026-12-06T13:00:00.000Z'));
    writeFileSync(join(dir, 'unnoted.yaml'), 'kind: AccessRevocation\n');
    writeFileSync(join(dir, 'old.txt'), noted('2026-12-06T11:00:00.000Z'));
    // Expired, and 2 GB long: its head says so without the rest being read.
    writeFileSync(join(dir, 'huge.yaml'), noted('2026-12-06T11:30:00.000Z'));
    truncateSync(join(dir, 'huge.yaml'), 2 * 1024 ** 3);
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    const started = performance.now();
    expect(pruneRevocationFiles(dir, NOW)).toBe(2);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(readdirSync(dir).sort()).toEqual(['new.yaml', 'old.txt', 'pipe.yaml', 'unnoted.yaml']);
  });

  it('looks through a directory at most once a minute in a process, however many writes ask', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
    writeFileSync(join(dir, 'a.yaml'), noted('2026-12-06T12:00:30.000Z'));
    expect(pruneRevocationFiles(dir, NOW)).toBe(0);
    expect(pruneRevocationFiles(dir, NOW + 31_000)).toBe(0); // expired, but looked through 31 s ago
    expect(existsSync(join(dir, 'a.yaml'))).toBe(true);
    expect(pruneRevocationFiles(dir, NOW + PRUNE_EVERY_MS)).toBe(1);
    expect(existsSync(join(dir, 'a.yaml'))).toBe(false);
  });

  it('writes a revocation into a directory with a named pipe in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    const name = writeRevocationFile(dir, { user: 'mallory@example.com' }, new Date(Date.now() + 3_600_000), {
      prefix: 'mallory',
    });
    expect(readdirSync(dir).sort()).toEqual([`${name}.yaml`, 'pipe.yaml']);
  });
});
