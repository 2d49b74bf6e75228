import { mkdirSync, mkdtempSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contract/errors.ts';
import { MAX_CONFIG_FILE_BYTES, readSnapshot } from '../../sidecar/src/config/config-files.ts';

// The config and revocation files are read again only when they changed; the revocations
// directory is looked into only when it changed, or at a sweep; a file too large is not read.

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-config-files-'));
  const config = join(root, 'config');
  const revocations = join(root, 'revocations');
  mkdirSync(config);
  mkdirSync(revocations);
  writeFileSync(join(config, 'app.yaml'), 'kind: A\n');
  writeFileSync(join(revocations, 'r1.yaml'), 'kind: R1\n');
  return { config, revocations };
}

describe('reading the config files again', () => {
  it('reuses the text of a file whose stamp did not change, and reads one that changed', () => {
    const { config, revocations } = dirs();
    const first = readSnapshot(config, [revocations]);
    const again = readSnapshot(config, [revocations], { previous: first, sweep: true });
    // The same string, not a new read of the same bytes.
    expect(again.files.get(join(config, 'app.yaml'))).toBe(first.files.get(join(config, 'app.yaml')));
    writeFileSync(join(config, 'app.yaml'), 'kind: B\n');
    const changed = readSnapshot(config, [revocations], { previous: again });
    expect(changed.files.get(join(config, 'app.yaml'))).toBe('kind: B\n');
  });

  it('sees a revocation file added or removed at once, one changed in place only at a sweep', () => {
    const { config, revocations } = dirs();
    const first = readSnapshot(config, [revocations]);
    // Written as `gatehouse revoke` writes: a temporary file renamed into place.
    writeFileSync(join(revocations, '.r2.tmp'), 'kind: R2\n');
    renameSync(join(revocations, '.r2.tmp'), join(revocations, 'r2.yaml'));
    const added = readSnapshot(config, [revocations], { previous: first });
    expect([...added.files.values()]).toEqual(['kind: A\n', 'kind: R1\n', 'kind: R2\n']);
    // Changed in place: the directory stays as it was.
    writeFileSync(join(revocations, 'r1.yaml'), 'kind: R1 changed\n');
    const quiet = readSnapshot(config, [revocations], { previous: added });
    expect(quiet.files.get(join(revocations, 'r1.yaml'))).toBe('kind: R1\n');
    const swept = readSnapshot(config, [revocations], { previous: quiet, sweep: true });
    expect(swept.files.get(join(revocations, 'r1.yaml'))).toBe('kind: R1 changed\n');
  });

  it('with the names a watcher told, looks at those alone: others are taken as they were, the named ones read even when the directory did not change', () => {
    const { config, revocations } = dirs();
    writeFileSync(join(revocations, 'r3.yaml'), 'kind: R3\n');
    const first = readSnapshot(config, [revocations]);
    const r1 = join(revocations, 'r1.yaml');
    const r3 = join(revocations, 'r3.yaml');
    // r1 changed in place (no event reached this read yet) while r2 arrived and r3 went.
    writeFileSync(r1, 'kind: R1 changed\n');
    writeFileSync(join(revocations, '.r2.tmp'), 'kind: R2\n');
    renameSync(join(revocations, '.r2.tmp'), join(revocations, 'r2.yaml'));
    unlinkSync(r3);
    const told = (...names: string[]) => new Map([[revocations, new Set(names)]]);
    const added = readSnapshot(config, [revocations], {
      previous: first,
      told: told('.r2.tmp', 'r2.yaml', 'r3.yaml'),
    });
    expect([...added.files.values()]).toEqual(['kind: A\n', 'kind: R1\n', 'kind: R2\n']);
    // The event for r1 comes: read, though the directory is as the last read found it.
    const named = readSnapshot(config, [revocations], { previous: added, told: told('r1.yaml') });
    expect(named.files.get(r1)).toBe('kind: R1 changed\n');
    // Nothing told and nothing changed: the last read as it was.
    expect(
      readSnapshot(config, [revocations], { previous: named, told: told() }).sources?.get(revocations),
    ).toBe(named.sources?.get(revocations));
    // Replaced under the same name (a sign-out sent again): read once named.
    writeFileSync(join(revocations, '.r1.tmp'), 'kind: R1 again\n');
    renameSync(join(revocations, '.r1.tmp'), r1);
    expect(readSnapshot(config, [revocations], { previous: named, told: told() }).files.get(r1)).toBe(
      'kind: R1 changed\n',
    );
    expect(
      readSnapshot(config, [revocations], { previous: named, told: told('.r1.tmp', 'r1.yaml') }).files.get(
        r1,
      ),
    ).toBe('kind: R1 again\n');
    // Added by another host on a network filesystem (the watcher hears of this host's changes
    // only): found, as the directory changed.
    writeFileSync(join(revocations, 'r4.yaml'), 'kind: R4\n');
    expect(
      readSnapshot(config, [revocations], { previous: named, told: told() }).files.get(
        join(revocations, 'r4.yaml'),
      ),
    ).toBe('kind: R4\n');
    // The directory replaced by another holding a file of the same name (a deploy tool's swap):
    // read whole, whatever was told (the watcher watched the one replaced).
    const swapped = `${revocations}.new`;
    mkdirSync(swapped);
    writeFileSync(join(swapped, 'r1.yaml'), 'kind: R1 swapped\n');
    renameSync(revocations, `${revocations}.old`);
    renameSync(swapped, revocations);
    const afterSwap = readSnapshot(config, [revocations], { previous: named, told: told() });
    expect([...afterSwap.files.entries()].filter(([f]) => f.startsWith(revocations))).toEqual([
      [r1, 'kind: R1 swapped\n'],
    ]);
    renameSync(revocations, swapped);
    renameSync(`${revocations}.old`, revocations);
    // A sweep looks at every file whatever was told.
    expect(
      readSnapshot(config, [revocations], { previous: named, sweep: true, told: told() }).files.get(r1),
    ).toBe('kind: R1 again\n');
  });

  it('looks at every config file at every read, sweep or not (the config directory holds few)', () => {
    const { config, revocations } = dirs();
    const first = readSnapshot(config, [revocations]);
    writeFileSync(join(config, 'app.yaml'), 'kind: C\n');
    expect(readSnapshot(config, [revocations], { previous: first }).files.get(join(config, 'app.yaml'))).toBe(
      'kind: C\n',
    );
  });

  it('skips a revocation file too large to read, with why, and reads the others', () => {
    const { config, revocations } = dirs();
    const huge = join(revocations, 'copied-log.json');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_CONFIG_FILE_BYTES + 1);
    const snapshot = readSnapshot(config, [revocations]);
    expect([...snapshot.files.keys()]).toEqual([join(config, 'app.yaml'), join(revocations, 'r1.yaml')]);
    expect(snapshot.skipped).toEqual([
      {
        path: huge,
        message: `${MAX_CONFIG_FILE_BYTES + 1} bytes: larger than the 16 MiB a config file may hold`,
      },
    ]);
  });

  it('refuses a config too large to read: the last good one keeps serving', () => {
    const { config } = dirs();
    truncateSync(join(config, 'app.yaml'), MAX_CONFIG_FILE_BYTES + 1);
    let caught: unknown;
    try {
      readSnapshot(config);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).errors).toEqual([
      {
        path: join(config, 'app.yaml'),
        message: `${MAX_CONFIG_FILE_BYTES + 1} bytes: larger than the 16 MiB a config file may hold`,
      },
    ]);
  });
});
