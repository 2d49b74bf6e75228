import { CRC32C_START, crc32cUpdate, crc32cValue, crc32cZeros } from '../crc32c.ts';
import {
  endpointOf,
  MAX_ENDPOINT_VALUE,
  namesEndpoint,
  type PrivateEndpoint,
} from './proxy-protocol-endpoint.ts';

/**
 * The extensions (TLVs) of a PROXY protocol version 2 header, read a chunk at a time as they
 * arrive, keeping at most one short value: the private endpoint a vendor's extension names
 * (proxy-protocol-endpoint.ts), and the header's checksum. PP2_TYPE_CRC32C carries the CRC-32C of
 * the whole header with its own four value bytes counted as zeros, and a receiver must verify it
 * when it is there (the specification, 2.2.5): a header whose bytes changed on the way, or that
 * someone wrote by hand with a wrong one, names a client that cannot be believed.
 */

const TLV_HEAD = 3;
const TYPE_CRC32C = 0x03;
const CRC32C_LENGTH = 4;

/** What the header's checksum says: none sent, it matches, or it does not (or is malformed). */
export type HeaderChecksum = 'none' | 'valid' | 'invalid';

export class HeaderExtensions {
  private readonly head = Buffer.alloc(TLV_HEAD);
  private headFill = 0;
  /** Bytes of the current extension's value still to come. */
  private valueLeft = 0;
  private type = 0;
  /** The current value, while it is one worth keeping (an endpoint's, the checksum) and short. */
  private value: Buffer | null = null;
  private valueFill = 0;
  private found: PrivateEndpoint | null = null;
  /** The CRC-32C of the header so far, the checksum's own value counted as zeros. */
  private crc: number;
  /** The current extension is the header's (first) checksum. */
  private inChecksum = false;
  private checksumSeen = false;
  /** The checksum the header carries once its extension is whole; null before, or when malformed. */
  private expected: number | null = null;

  /** `before`: the header's bytes before its extensions (the fixed part and the address block). */
  constructor(before: Buffer) {
    this.crc = crc32cUpdate(CRC32C_START, before);
  }

  /** Every byte of the extensions, in order. */
  feed(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.valueLeft === 0 && this.headFill < TLV_HEAD) {
        const take = Math.min(TLV_HEAD - this.headFill, bytes.length - at);
        bytes.copy(this.head, this.headFill, at, at + take);
        this.crc = crc32cUpdate(this.crc, bytes, at, at + take);
        this.headFill += take;
        at += take;
        if (this.headFill === TLV_HEAD) this.startValue();
        continue;
      }
      const take = Math.min(this.valueLeft, bytes.length - at);
      if (this.value !== null) bytes.copy(this.value, this.valueFill, at, at + take);
      this.crc = this.inChecksum ? crc32cZeros(this.crc, take) : crc32cUpdate(this.crc, bytes, at, at + take);
      this.valueFill += take;
      this.valueLeft -= take;
      at += take;
      if (this.valueLeft === 0) this.endValue();
    }
  }

  /** The first endpoint named by a whole extension; null when none was. */
  get endpoint(): PrivateEndpoint | null {
    return this.found;
  }

  /**
   * Once every byte is fed: whether the header carried a checksum and it matches. One of another
   * length than four bytes, or cut short by the header's end, is invalid.
   */
  get checksum(): HeaderChecksum {
    if (!this.checksumSeen) return 'none';
    return this.expected !== null && this.expected === crc32cValue(this.crc) ? 'valid' : 'invalid';
  }

  private startValue(): void {
    this.type = this.head[0] as number;
    this.valueLeft = this.head.readUInt16BE(1);
    this.valueFill = 0;
    this.inChecksum = this.type === TYPE_CRC32C && !this.checksumSeen;
    if (this.inChecksum) this.checksumSeen = true;
    const kept = this.inChecksum
      ? this.valueLeft === CRC32C_LENGTH
      : this.found === null && namesEndpoint(this.type) && this.valueLeft <= MAX_ENDPOINT_VALUE;
    this.value = kept ? Buffer.alloc(this.valueLeft) : null;
    if (this.valueLeft === 0) this.endValue();
  }

  private endValue(): void {
    if (this.inChecksum) {
      if (this.value !== null) this.expected = this.value.readUInt32BE(0);
    } else if (this.value !== null) this.found = endpointOf(this.type, this.value);
    this.value = null;
    this.inChecksum = false;
    this.headFill = 0;
  }
}
