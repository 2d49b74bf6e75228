import { isIP } from 'node:net';
import { normaliseIp } from './client-ip.ts';

/** An address as its family and bit string ('0'/'1', 32 or 128 long), for prefix lookups. */
export interface AddressBits {
  readonly family: 4 | 6;
  readonly bits: string;
}

function bitsOf(value: number, width: number): string {
  return value.toString(2).padStart(width, '0');
}

function ipv4Bits(ip: string): string {
  return ip
    .split('.')
    .map((octet) => bitsOf(Number(octet), 8))
    .join('');
}

function ipv6Bits(ip: string): string {
  let text = ip;
  let tail = '';
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // An embedded IPv4 address fills the last 32 bits.
    tail = ipv4Bits(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - left.length - right.length;
  const groups = rest === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  const bits = groups.map((g) => bitsOf(Number.parseInt(g, 16), 16)).join('');
  return tail ? bits.slice(0, 96) + tail : bits;
}

/**
 * The bits of an IPv4 or IPv6 address (IPv4-mapped IPv6 counts as IPv4, zone ids are refused);
 * undefined when it is not an address.
 */
export function addressBits(text: string): AddressBits | undefined {
  const ip = normaliseIp(text);
  const version = isIP(ip);
  if (version === 4) return { family: 4, bits: ipv4Bits(ip) };
  if (version === 6 && !ip.includes('%')) return { family: 6, bits: ipv6Bits(ip.toLowerCase()) };
  return undefined;
}

/**
 * What a client counts as for a fair share (of the upstream pool, of the calls to identity
 * providers, of tunnels): its IPv4 address, or the /64 its IPv6 address is in
 * (`2001:db8:1:2::/64`). An IPv6 host is given a /64 of its own (a home network, a phone, a cloud
 * machine) and may send from any address in it, so counted by address it would be as many
 * clients as it likes. Anything else is returned as it is.
 */
export function clientNetwork(ip: string): string {
  if (!ip.includes(':')) return ip;
  const address = addressBits(ip.split('%')[0] as string);
  if (address?.family !== 6) return ip;
  const groups = [0, 1, 2, 3].map((i) =>
    Number.parseInt(address.bits.slice(i * 16, i * 16 + 16), 2).toString(16),
  );
  return `${groups.join(':')}::/64`;
}
