import { randomFillSync } from 'node:crypto';

/**
 * The random ids a request needs (its request id, and a trace and parent id when it starts a
 * trace), from one buffered pool of the system CSPRNG, the source crypto.randomUUID uses. Node's
 * randomUUID builds each id from 20 string concatenations, and a trace took two of them cut up:
 * about 2 KB of garbage per request. Here each id is one string written from a scratch buffer.
 */

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

/** `n` fresh random bytes' offset in the pool (refilled when spent; bytes are never handed out twice). */
function take(n: number): number {
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const at = used;
  used += n;
  return at;
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');
const uuidText = Buffer.alloc(36, '-'.charCodeAt(0));
/** Where each of the 16 bytes' two hex digits go in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const UUID_POSITIONS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** A random (version 4, RFC 9562) UUID in lower case, as crypto.randomUUID() returns. */
export function newRequestId(): string {
  const at = take(16);
  for (let i = 0; i < 16; i++) {
    let byte = pool[at + i] as number;
    if (i === 6)
      byte = (byte & 0x0f) | 0x40; // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // variant 10
    const p = UUID_POSITIONS[i] as number;
    uuidText[p] = HEX[byte >> 4] as number;
    uuidText[p + 1] = HEX[byte & 0x0f] as number;
  }
  return uuidText.toString('latin1', 0, 36);
}

/** True when `length` bytes of the pool from `at` are all zero (an invalid W3C trace or parent id). */
function allZero(at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) if (pool[i] !== 0) return false;
  return true;
}

/** Random hex of `bytes` bytes, never all zeros (W3C Trace Context forbids all-zero ids). */
function nonZeroHex(bytes: number): string {
  for (;;) {
    const at = take(bytes);
    if (!allZero(at, bytes)) return pool.toString('hex', at, at + bytes);
  }
}

/** A new W3C trace id (16 bytes) and parent id (8 bytes), as lower-case hex. */
export function newTraceIds(): { traceId: string; parentId: string } {
  return { traceId: nonZeroHex(16), parentId: nonZeroHex(8) };
}
