import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionsWithinOpenFiles, openFileLimit } from '../../lib/open-files.ts';

describe('client connections within the open-file limit', () => {
  it.each([
    [12_000, undefined, 12_000],
    [12_000, 1_048_576, 12_000],
    [12_000, 65_536, 12_000],
    [12_000, 13_024, 12_000],
    [12_000, 13_000, 11_976],
    [12_000, 8_192, 7_168],
    [12_000, 2_048, 1_536],
    [12_000, 1_024, 768],
    [500, 1_024, 500],
    [12_000, 40, 30],
    [12_000, 16, 16],
  ])('%i asked with a limit of %s: %i', (requested, limit, expected) => {
    expect(connectionsWithinOpenFiles(requested, limit)).toBe(expected);
  });
});

describe('the open-file limit read from /proc', () => {
  const limits = (line: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'limits-')), 'limits');
    writeFileSync(
      path,
      `Limit                     Soft Limit           Hard Limit           Units\nMax processes             unlimited            unlimited            processes\n${line}\nMax locked memory         8388608              8388608              bytes\n`,
    );
    return path;
  };
  it.each([
    ['Max open files            1024                 524288               files', 1024],
    ['Max open files            unlimited            unlimited            files', undefined],
    ['Max open files            junk                 1                    files', undefined],
  ])('%s', (line, expected) => {
    expect(openFileLimit(limits(line))).toBe(expected);
  });
  it('undefined where there is no such file; this process has one', () => {
    expect(openFileLimit('/nonexistent/limits')).toBeUndefined();
    expect(openFileLimit()).toBeGreaterThan(0);
  });
});
