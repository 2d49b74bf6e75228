import type { AddressInfo, Server } from 'node:net';

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
