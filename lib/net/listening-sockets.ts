import { SocketAddress } from 'node:net';
import { isLoopbackHost, normaliseIp } from './client-ip.ts';

/**
 * The addresses TCP sockets of this network namespace listen on, read from Linux's
 * /proc/net/tcp and /proc/net/tcp6 (in a pod: every container's, the application's included).
 * Each line names a socket's local address as hexadecimal words in the host's byte order; this
 * reads them on little-endian hosts (x86-64, arm64), as Kubernetes nodes are.
 */

/** The state column of a listening socket. */
const LISTEN = '0A';
const HEX = /^[0-9A-Fa-f]+$/;

/** An IPv4 address from 8 hexadecimal digits in little-endian order (`0100007F`: 127.0.0.1). */
function ipv4(hex: string): string {
  const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes.join('.');
}

/** An IPv6 address from 32 hexadecimal digits: four 32-bit words, each little-endian. */
function ipv6(hex: string): string {
  const groups: string[] = [];
  for (let word = 0; word < 4; word++) {
    const [a, b, c, d] = [6, 4, 2, 0].map((i) => hex.slice(word * 8 + i, word * 8 + i + 2));
    groups.push(`${a}${b}`, `${c}${d}`);
  }
  // Written as addresses usually are (`::1`, `fd00::7`, `::ffff:127.0.0.1`).
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address.toLowerCase();
}

/**
 * The addresses listening on `port`, from the text of /proc/net/tcp and /proc/net/tcp6; sorted,
 * each once. Only the lines that name the port are read: in a busy pod the files hold a line per
 * connection (10,000 connections: 1.3 MB), which splitting whole would hold the event loop for
 * milliseconds.
 */
export function listeningAddresses(port: number, tcp: string, tcp6: string): string[] {
  const found = new Set<string>();
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const [text, address, digits] of [
    [tcp, ipv4, 8],
    [tcp6, ipv6, 32],
  ] as const)
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at);
      const fields = text
        .slice(start, end === -1 ? text.length : end)
        .trim()
        .split(/\s+/);
      const local = fields[1];
      if (fields[3] !== LISTEN || local === undefined || local.length !== digits + needle.length - 1)
        continue;
      if (!local.endsWith(needle.trimEnd())) continue; // the port named is the remote one
      const hex = local.slice(0, digits);
      if (HEX.test(hex)) found.add(address(hex));
    }
  return [...found].sort();
}

/** Whether an address is a loopback one: 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  return isLoopbackHost(normaliseIp(address));
}
