import { describe, expect, it } from 'vitest';
import { utf8Chunks } from '../../audit/src/text-encoding.ts';

/** The chunks of `bytes`, cut every `size` bytes. */
async function* cut(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function decoded(bytes: Buffer, size: number): Promise<string> {
  const out: Buffer[] = [];
  for await (const chunk of utf8Chunks(cut(bytes, size))) out.push(Buffer.from(chunk));
  return Buffer.concat(out).toString('utf8');
}

const TEXT = '{"uri":"/caf\u00e9-\u{1f600}-\u4e2d"}\n{"uri":"/b"}\n';
const utf16be = (t: string) => Buffer.from(t, 'utf16le').swap16();

describe('utf8Chunks', () => {
  it.each<[string, Buffer, string]>([
    ['UTF-8 without a mark: untouched', Buffer.from(TEXT), TEXT],
    ['a UTF-8 mark: taken off', Buffer.from(`\ufeff${TEXT}`), TEXT],
    [
      'UTF-16LE with its mark',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')]),
      TEXT,
    ],
    ['UTF-16BE with its mark', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(TEXT)]), TEXT],
    ['a mark only', Buffer.from([0xef, 0xbb, 0xbf]), ''],
    ['an empty file', Buffer.alloc(0), ''],
    ['two bytes', Buffer.from('{}'), '{}'],
    ['a UTF-16 mark alone', Buffer.from([0xff, 0xfe]), ''],
    ['a mark in the middle is text', Buffer.from(`a\ufeffb`), 'a\ufeffb'],
  ])('%s, in chunks of every size from 1 byte', async (_case, bytes, text) => {
    // Chunks of 1 to 7 bytes cut the mark, and split characters and surrogate pairs.
    for (const size of [1, 2, 3, 5, 7, 64 * 1024]) expect(await decoded(bytes, size)).toBe(text);
  });

  it('passes the chunks of a file without a mark on as they are', async () => {
    const chunks = [Buffer.from('{"a":'), Buffer.from('1}\n')];
    const out: (Buffer | string)[] = [];
    for await (const chunk of utf8Chunks(cut(Buffer.concat(chunks), 5))) out.push(chunk);
    expect(out.map(String)).toEqual(['{"a":', '1}\n']);
  });
});
