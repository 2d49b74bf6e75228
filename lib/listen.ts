import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';

/**
 * The listen backlog of a server a crowd connects to at once (clients of a sidecar, every sidecar
 * of the cluster reconnecting to the operator): Linux's default somaxconn since 5.4, which caps it.
 * With Node.js's default of 511 a burst while the event loop was busy overflowed the queue, and
 * each dropped handshake waited 1, 3 or 7 s for its client to try again.
 */
export const CROWD_BACKLOG = 4096;

/**
 * Starts a server listening; resolves with its address, rejects when the port cannot be bound.
 * `backlog` is how many accepted-by-the-kernel connections may wait for the process to take them
 * (Linux caps it at net.core.somaxconn); Node.js's default is 511.
 */
export function listenOn(server: Server, port: number, host: string, backlog?: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ...(backlog === undefined ? {} : { backlog }) }, () => {
      server.off('error', reject);
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
