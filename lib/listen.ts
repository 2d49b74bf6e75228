import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { EVERY_ADDRESS } from './args.ts';

/**
 * The listen backlog of a server a crowd connects to at once (clients of a sidecar, every sidecar
 * of the cluster reconnecting to the operator): Linux's default somaxconn since 5.4, which caps it.
 * With Node.js's default of 511 a burst while the event loop was busy overflowed the queue, and
 * each dropped handshake waited 1, 3 or 7 s for its client to try again.
 */
export const CROWD_BACKLOG = 4096;

/** Why an address could not be bound, as a person starting the process can act on it. */
const WHY_NOT: Readonly<Record<string, string>> = {
  EADDRINUSE:
    'the address is in use: another process listens there (in a pod, another container of the pod, such as the application on the same port)',
  EACCES: 'permission denied: a port below 1024 needs root or the NET_BIND_SERVICE capability',
  EADDRNOTAVAIL: 'no network interface here has that address',
};

/** A server could not listen where it was told to; the process cannot start. Code `listen_failed`. */
export class ListenError extends Error {
  readonly code = 'listen_failed';
  /** `host:port` as given. */
  readonly address: string;
  /** The system's code (`EADDRINUSE`). */
  readonly reason: string;
  /** `flag` names the option that gave the address (`--admin-listen`), when known. */
  constructor(address: string, flag: string | undefined, reason: string, detail: string) {
    super(`cannot listen on ${address}${flag ? ` (${flag})` : ''}: ${WHY_NOT[reason] ?? detail}`);
    this.name = 'ListenError';
    this.address = address;
    this.reason = reason;
  }
}

/** `host:port` as a person writes it: `[::1]:80` for IPv6, `:80` for every address (host `''`). */
export function listenAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts a server listening; resolves with its address, rejects with a ListenError when the
 * address cannot be bound. Host EVERY_ADDRESS (`''`): Node.js binds `::` with IPv4 mapped into
 * it (a pod of an IPv6 or dual-stack cluster is reached on its IPv6 address, by Services, the
 * ingress and the kubelet's probes alike), and `0.0.0.0` where the host has no IPv6. `backlog`
 * is how many accepted-by-the-kernel connections may wait for the process to take them (Linux
 * caps it at net.core.somaxconn); Node.js's default is 511. `flag` names the option that gave
 * the address, for the message.
 */
export function listenOn(
  server: Server,
  port: number,
  host: string,
  backlog?: number,
  flag?: string,
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      reject(new ListenError(listenAddress(host, port), flag, error.code ?? '', error.message));
    };
    server.once('error', failed);
    const where = host === EVERY_ADDRESS ? { port } : { port, host };
    server.listen({ ...where, ...(backlog === undefined ? {} : { backlog }) }, () => {
      server.off('error', failed);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * The kernel's cap on a listen backlog (Linux: net.core.somaxconn of this network namespace, the
 * pod's); undefined where it cannot be read.
 */
export function kernelBacklogCap(path = '/proc/sys/net/core/somaxconn'): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
