/**
 * CRC-32C (Castagnoli: the reflected polynomial 0x82F63B78), the checksum of the PROXY protocol's
 * PP2_TYPE_CRC32C extension (and of iSCSI and SCTP), computed a piece at a time: start with
 * CRC32C_START, `crc32cUpdate` each piece in order (`crc32cZeros` for bytes counted as zeros),
 * then `crc32cValue`. Node.js's zlib.crc32 is the other CRC-32 (ISO-HDLC), not this one.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The state before any byte. */
export const CRC32C_START = 0xffffffff;

/** The state after `bytes[from, to)`. */
export function crc32cUpdate(state: number, bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = state;
  for (let i = from; i < to; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return c >>> 0;
}

/** The state after `count` zero bytes. */
export function crc32cZeros(state: number, count: number): number {
  let c = state;
  for (let i = 0; i < count; i++) c = (TABLE[c & 0xff] as number) ^ (c >>> 8);
  return c >>> 0;
}

/** The checksum of what the state has seen. */
export const crc32cValue = (state: number): number => (state ^ 0xffffffff) >>> 0;

/** The checksum of `bytes`. */
export const crc32c = (bytes: Uint8Array): number => crc32cValue(crc32cUpdate(CRC32C_START, bytes));
