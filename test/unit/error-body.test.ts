import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { errorBodyStart } from '../../lib/http/error-body.ts';

describe('errorBodyStart', () => {
  it.each<[string, string[], string]>([
    ['a short body, whole', ['no ', 'such ', 'stream'], 'no such stream'],
    ['an empty body', [], ''],
    [
      'a long body, its first bytes',
      ['x'.repeat(200), 'y'.repeat(200), 'z'.repeat(200)],
      `${'x'.repeat(200)}${'y'.repeat(100)}`,
    ],
  ])('%s', async (_what, chunks, expected) => {
    expect(await errorBodyStart(Readable.from(chunks.map((c) => Buffer.from(c))))).toBe(expected);
  });

  it('stops reading an endless body at the bound, and destroys it', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(1024, 0x61));
      },
    });
    expect(await errorBodyStart(body, 300)).toBe('a'.repeat(300));
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(100);
  });

  it('gives what came within the time, of a body that goes silent', async () => {
    const body = new Readable({ read() {} });
    body.push('partial answer');
    const started = performance.now();
    expect(await errorBodyStart(body, 300, 200)).toBe('partial answer');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(body.destroyed).toBe(true);
  });
});
