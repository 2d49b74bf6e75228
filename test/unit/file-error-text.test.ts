import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fileErrorText } from '../../lib/file-error-text.ts';

/** The error a call throws. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('no error');
}

describe('fileErrorText: the reason of a failed file operation, without its code, call and path', () => {
  it.each([
    ['a missing file read', () => readFileSync('/nonexistent/x'), 'no such file or directory'],
    ['a missing file stat', () => statSync('/nonexistent'), 'no such file or directory'],
    ['a directory read as a file', () => readFileSync('/'), 'illegal operation on a directory'],
    ['a file listed as a directory', () => readdirSync('/etc/hostname'), 'not a directory'],
  ])('%s', (_what, call, reason) => {
    expect(fileErrorText(thrown(call))).toBe(reason);
  });

  it('an asynchronous call says the same', async () => {
    expect(fileErrorText(await readFile('/nonexistent').catch((e: unknown) => e))).toBe(
      'no such file or directory',
    );
  });

  it('any other error: its message as it is', () => {
    expect(fileErrorText(new Error('something else'))).toBe('something else');
    expect(fileErrorText('text')).toBe('text');
    expect(fileErrorText(Object.assign(new Error('EPIPE but not the form'), { code: 'EPIPE' }))).toBe(
      'EPIPE but not the form',
    );
  });
});
