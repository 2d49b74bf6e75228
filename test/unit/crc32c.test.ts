import { describe, expect, it } from 'vitest';
import { CRC32C_START, crc32c, crc32cUpdate, crc32cValue, crc32cZeros } from '../../lib/crc32c.ts';

const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

describe('CRC-32C', () => {
  // The catalogue's check value, and the iSCSI vectors of RFC 3720, appendix B.4.
  it.each([
    ['the check value ("123456789")', Buffer.from('123456789'), 0xe3069283],
    ['32 zero bytes', Buffer.alloc(32), 0x8a9136aa],
    ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes', ascending, 0x46dd794e],
    ['32 descending bytes', Buffer.from(ascending).reverse(), 0x113fdb5c],
    ['nothing', Buffer.alloc(0), 0],
  ])('%s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });

  it('a piece at a time, and zeros counted without bytes, give the same', () => {
    const text = Buffer.from('PROXY protocol header, in pieces');
    let state = CRC32C_START;
    for (let at = 0; at < text.length; at += 5)
      state = crc32cUpdate(state, text, at, Math.min(text.length, at + 5));
    expect(crc32cValue(state)).toBe(crc32c(text));
    const withZeros = Buffer.concat([text, Buffer.alloc(4), text]);
    const counted = crc32cUpdate(crc32cZeros(crc32cUpdate(CRC32C_START, text), 4), text);
    expect(crc32cValue(counted)).toBe(crc32c(withZeros));
  });
});
