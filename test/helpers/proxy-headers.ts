import { crc32c } from '../../lib/crc32c.ts';

/** PROXY protocol headers as load balancers write them, for tests of the sidecar behind one. */

/** The twelve bytes every version 2 header begins with. */
export const PROXY_V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** The sixteen bytes of an IPv6 address written as text (`2001:db8::7`). */
export function ipv6Bytes(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * The address block of a TCP connection from `client` (IPv4 or IPv6) to the pod (10.0.0.5 or
 * fd00::5), from port 50000 to 4188.
 */
export function tcpBlock(client: string): number[] {
  const addresses = client.includes(':')
    ? [...ipv6Bytes(client), ...ipv6Bytes('fd00::5')]
    : [...client.split('.').map(Number), 10, 0, 0, 5];
  return [...addresses, 0xc3, 0x50, 0x10, 0x5c];
}

/**
 * A version 2 header: command (0 LOCAL, 1 PROXY), family and transport byte, address block, then
 * extensions (that many bytes, or these); `length` writes another length than the one it has.
 */
export function proxyV2(
  command: number,
  familyTransport: number,
  block: readonly number[],
  extensions: number | Buffer = 0,
  length?: number,
): Buffer {
  const tail = typeof extensions === 'number' ? Buffer.alloc(extensions, 0xaa) : extensions;
  const body = Buffer.concat([Buffer.from(block), tail]);
  const head = Buffer.from([...PROXY_V2_SIGNATURE, 0x20 | command, familyTransport, 0, 0]);
  head.writeUInt16BE(length ?? body.length, 14);
  return Buffer.concat([head, body]);
}

/** A version 2 PROXY header for a TCP client (IPv4 or IPv6), LOCAL when `local`. */
export function proxyV2For(client: string, extensions: number | Buffer = 0, local = false): Buffer {
  return proxyV2(local ? 0 : 1, client.includes(':') ? 0x21 : 0x11, tcpBlock(client), extensions);
}

/** One version 2 extension (a TLV): its type, a 16-bit length, its value. */
export function proxyTlv(type: number, value: readonly number[] | Buffer): Buffer {
  const bytes = Buffer.from(value);
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** The extension an AWS Network Load Balancer adds for a connection through a VPC endpoint. */
export function awsEndpointTlv(endpointId: string): Buffer {
  return proxyTlv(0xea, Buffer.concat([Buffer.from([0x01]), Buffer.from(endpointId, 'latin1')]));
}

/** The extension Azure Private Link adds: the private endpoint's LinkID, little-endian. */
export function azureLinkTlv(linkId: number): Buffer {
  const value = Buffer.alloc(5);
  value[0] = 0x01;
  value.writeUInt32LE(linkId, 1);
  return proxyTlv(0xee, value);
}

/** The extension GCP Private Service Connect adds: the connection id, big-endian. */
export function gcpConnectionTlv(connectionId: bigint): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(connectionId);
  return proxyTlv(0xe0, value);
}

/**
 * The header with the value of its checksum extension (PP2_TYPE_CRC32C, 4 bytes) filled in as a
 * balancer computes it: the CRC-32C of the whole header, that value counted as zeros; `tamper`
 * is added to it (1: a checksum one off).
 */
export function withChecksum(header: Buffer, tamper = 0): Buffer {
  const sealed = Buffer.from(header);
  const block = [0, 12, 36, 216][(sealed[13] as number) >> 4] as number;
  for (let at = 16 + block; at + 3 <= sealed.length; at += 3 + sealed.readUInt16BE(at + 1)) {
    if (sealed[at] !== 0x03 || sealed.readUInt16BE(at + 1) !== 4) continue;
    sealed.fill(0, at + 3, at + 7);
    sealed.writeUInt32BE((crc32c(sealed) + tamper) >>> 0, at + 3);
    return sealed;
  }
  throw new Error('no checksum extension in the header');
}
