import type { AddressInfo, Server } from 'node:net';

/** Starts a server listening; resolves with its address, rejects when the port cannot be bound. */
export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
