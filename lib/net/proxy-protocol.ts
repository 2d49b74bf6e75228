import { isIP } from 'node:net';
import type { PrivateEndpoint } from './proxy-protocol-endpoint.ts';
import { HeaderExtensions } from './proxy-protocol-extensions.ts';

/**
 * The PROXY protocol header (HAProxy, versions 1 and 2) that a layer-4 load balancer (an AWS
 * Network Load Balancer, a GCP or Azure proxy, HAProxy in TCP mode) writes at the start of each
 * connection to say whose it is: read a chunk at a time, with nothing kept but the header's fixed
 * part and one extension's value (proxy-protocol-extensions.ts: a vendor's private endpoint, the
 * header's checksum), so a header that declares 64 KiB of extensions costs a few bytes to skip.
 * https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt
 */

/** What the start of a connection turned out to be. */
export type ProxyHeader =
  /**
   * The header named the client: `source` is its address; `endpoint` the private endpoint
   * (AWS PrivateLink, Azure Private Link, GCP Private Service Connect) it came through, if a
   * version 2 header's extensions named one.
   */
  | {
      readonly kind: 'proxied';
      readonly source: string;
      readonly endpoint: PrivateEndpoint | null;
      readonly rest: Buffer;
    }
  /**
   * The balancer's own connection (version 2 LOCAL: its health check) or one it could not
   * describe (version 1 UNKNOWN, version 2 UNSPEC): the connection's own peer stands.
   */
  | { readonly kind: 'local'; readonly rest: Buffer }
  /** No header: the bytes so far (`rest`) begin something else, such as an HTTP request. */
  | { readonly kind: 'missing'; readonly rest: Buffer }
  /** A header that breaks the protocol; nothing after it can be read. */
  | { readonly kind: 'invalid'; readonly reason: ProxyHeaderProblem };

/** Why a header was refused. */
export type ProxyHeaderProblem =
  | 'v1_too_long'
  | 'v1_malformed'
  | 'v1_address'
  | 'v2_version'
  | 'v2_command'
  | 'v2_family'
  | 'v2_length'
  | 'v2_checksum';

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Version 1: at most 107 bytes, line ending included (the specification's own bound). */
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
/** Version 2 address block sizes: IPv4 and IPv6 (addresses and ports); UNIX sockets are longer. */
const V2_INET = 12;
const V2_INET6 = 36;
const V2_UNIX = 216;

/** Whether bytes begin with a PROXY header (version 1 or 2), whole or not; nothing more is checked. */
export function beginsWithProxyHeader(bytes: Buffer): boolean {
  const starts = (prefix: Buffer): boolean =>
    bytes.length >= prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
  return starts(V1_PREFIX) || starts(V2_SIGNATURE);
}

/**
 * Reads a PROXY header from the chunks of a connection, as they arrive. `push` returns null
 * while it needs more, then the outcome once (and must not be called after).
 */
export class ProxyHeaderReader {
  /** Bytes kept so far: the fixed part of a header (at most 107 + its chunk's remainder). */
  private kept: Buffer = Buffer.alloc(0);
  /** Version 2, once its address block is read: the client it names (null: LOCAL or UNSPEC). */
  private v2Source: string | null | undefined;
  /** Version 2: bytes of the header still to skip (its extensions) before what follows it. */
  private v2Left = 0;
  /** Version 2 PROXY: its extensions, read for the private endpoint they may name and its checksum. */
  private extensions: HeaderExtensions | null = null;

  push(chunk: Buffer): ProxyHeader | null {
    if (this.v2Source !== undefined) return this.skip(chunk);
    this.kept = this.kept.length === 0 ? chunk : Buffer.concat([this.kept, chunk]);
    const data = this.kept;
    const first = data[0];
    if (first === V1_PREFIX[0]) return this.version1(data);
    if (first === V2_SIGNATURE[0]) return this.version2(data);
    return { kind: 'missing', rest: data };
  }

  private version1(data: Buffer): ProxyHeader | null {
    const prefix = Math.min(data.length, V1_PREFIX.length);
    if (!data.subarray(0, prefix).equals(V1_PREFIX.subarray(0, prefix)))
      return { kind: 'missing', rest: data };
    const end = data.indexOf('\r\n', 0, 'latin1');
    if (end < 0) return data.length >= V1_MAX ? { kind: 'invalid', reason: 'v1_too_long' } : null;
    if (end + 2 > V1_MAX) return { kind: 'invalid', reason: 'v1_too_long' };
    const rest = data.subarray(end + 2);
    const fields = data.toString('latin1', V1_PREFIX.length, end).split(' ');
    if (fields[0] === 'UNKNOWN') return { kind: 'local', rest };
    const [family, source, destination, sourcePort, destinationPort] = fields;
    if (fields.length !== 5 || (family !== 'TCP4' && family !== 'TCP6'))
      return { kind: 'invalid', reason: 'v1_malformed' };
    const ipFamily = family === 'TCP4' ? 4 : 6;
    if (
      isIP(source ?? '') !== ipFamily ||
      isIP(destination ?? '') !== ipFamily ||
      !isPort(sourcePort) ||
      !isPort(destinationPort)
    )
      return { kind: 'invalid', reason: 'v1_address' };
    return { kind: 'proxied', source: source as string, endpoint: null, rest };
  }

  private version2(data: Buffer): ProxyHeader | null {
    const prefix = Math.min(data.length, V2_SIGNATURE.length);
    if (!data.subarray(0, prefix).equals(V2_SIGNATURE.subarray(0, prefix)))
      return { kind: 'missing', rest: data };
    if (data.length < V2_FIXED) return null;
    const versionCommand = data[12] as number;
    if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'v2_version' };
    const command = versionCommand & 0x0f;
    if (command > 1) return { kind: 'invalid', reason: 'v2_command' };
    const familyTransport = data[13] as number;
    const family = familyTransport >> 4;
    const transport = familyTransport & 0x0f;
    const length = data.readUInt16BE(14);
    if (family > 3 || transport > 2) return { kind: 'invalid', reason: 'v2_family' };
    const block = [0, V2_INET, V2_INET6, V2_UNIX][family] as number;
    if (length < block) return { kind: 'invalid', reason: 'v2_length' };
    if (command === 1 && (family === 1 || family === 2) && transport !== 1)
      return { kind: 'invalid', reason: 'v2_family' }; // a datagram's addresses, on a stream
    if (command === 1 && family === 3) return { kind: 'invalid', reason: 'v2_family' }; // a UNIX socket names no client
    // Only the address block is read; the extensions after it are skipped as they arrive.
    const needed = V2_FIXED + block;
    if (data.length < needed) return null;
    const address = data.subarray(V2_FIXED, needed);
    this.v2Source =
      command === 0 || family === 0
        ? null
        : family === 1
          ? address.subarray(0, 4).join('.')
          : ipv6Text(address.subarray(0, 16));
    this.v2Left = length - block;
    if (this.v2Source !== null && this.v2Left > 0)
      this.extensions = new HeaderExtensions(data.subarray(0, needed));
    this.kept = Buffer.alloc(0);
    return this.skip(data.subarray(needed));
  }

  /**
   * Reads past the rest of a version 2 header (its extensions, for the endpoint they may name and
   * its checksum); the outcome, with what follows it, once it is past. A PROXY header whose
   * checksum does not match is invalid; a LOCAL one names no client, and its extensions are
   * skipped unread.
   */
  private skip(chunk: Buffer): ProxyHeader | null {
    this.extensions?.feed(chunk.length < this.v2Left ? chunk : chunk.subarray(0, this.v2Left));
    if (chunk.length < this.v2Left) {
      this.v2Left -= chunk.length;
      return null;
    }
    const rest = chunk.subarray(this.v2Left);
    if (this.v2Source == null) return { kind: 'local', rest };
    if (this.extensions?.checksum === 'invalid') return { kind: 'invalid', reason: 'v2_checksum' };
    return { kind: 'proxied', source: this.v2Source, endpoint: this.extensions?.endpoint ?? null, rest };
  }
}

function isPort(text: string | undefined): boolean {
  return text !== undefined && /^(0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65_535;
}

/** An IPv6 address from its 16 bytes, in the form Node.js gives a socket's (`2001:db8::1`). */
function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // An IPv4-mapped address is written as Node.js writes a mapped peer, then normalised as one.
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff')
    return `::ffff:${bytes.subarray(12, 16).join('.')}`;
  // The URL parser writes an IPv6 host in its shortest form (RFC 5952), as Node.js writes peers.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
