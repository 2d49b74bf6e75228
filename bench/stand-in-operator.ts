// A stand-in for the operator's config stream, for benchmarks that start the sidecar as it is
// injected (its config from the operator over HTTPS) without a cluster: one application's config,
// rendered from a standalone config directory, served as the operator serves it.
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readSnapshot } from '../sidecar/src/config/config-files.ts';
import { configFromSnapshot } from '../sidecar/src/config/load-application.ts';
import { selfSignedCertificate } from '../test/helpers/tls.ts';

export interface StandInOperator {
  /** The sidecar's flags for this stream (instead of `--config`). */
  readonly flags: string[];
  close(): Promise<void>;
}

/**
 * Serves the application of the config directory `dir` on a stream as the operator does: one
 * `config` line, then the stream stays open, over TLS with a certificate the sidecar is told to
 * trust (`--operator-ca`) and a token file in `dir`.
 */
export async function standInOperator(dir: string): Promise<StandInOperator> {
  const line = `${JSON.stringify({ type: 'config', config: configFromSnapshot(readSnapshot(dir)) })}\n`;
  const tls = selfSignedCertificate();
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'pod-token');
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(line);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    flags: ['--operator-url', url, '--operator-ca', tls.certFile, '--token-file', tokenFile],
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
