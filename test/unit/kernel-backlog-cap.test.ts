import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelBacklogCap } from '../../lib/listen.ts';

describe('kernelBacklogCap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-somaxconn-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  it.each([
    ['4096\n', 4096],
    ['128', 128],
    ['0\n', undefined],
    ['-1\n', undefined],
    ['many\n', undefined],
    ['', undefined],
  ] as const)('reads %j as %s', (text, expected) => {
    expect(kernelBacklogCap(file(`v${text.length}-${expected}`, text))).toBe(expected);
  });
  it('is undefined where the file cannot be read', () => {
    expect(kernelBacklogCap(join(dir, 'absent'))).toBeUndefined();
  });
  it("reads this machine's cap", () => {
    expect(kernelBacklogCap()).toBeGreaterThan(0);
  });
});
