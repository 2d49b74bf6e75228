import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { streamLine } from '../../contract/config-stream.ts';
import { SESSION_ENDS_PATH } from '../../contract/session-ends.ts';
import { TEST_KEYS, testConfig } from './fixtures.ts';
import { selfSignedCertificate } from './tls.ts';

/**
 * How the stand-in answers a session end: 201, 409 (refused), 503, a connection dropped
 * mid-request, or nothing at all (the connection held).
 */
export type SessionEndAnswer = 'accept' | 'refuse' | 'unavailable' | 'drop' | 'hold';

/** A cluster's application as its operator renders it (lines name it shop/test-app); its sessions are sealed with TEST_KEYS. */
export const STAND_IN_CONFIG: SidecarConfig = testConfig(
  {
    upstream: { url: 'http://127.0.0.1:9' },
    authentication: {
      externalUrl: 'http://127.0.0.1',
      // Never contacted: the sessions of these tests are sealed by the test, as a sign-in would.
      identityProviders: [{ name: 'corp', issuer: 'http://127.0.0.1:9/', clientId: 'test' }],
    },
  },
  {},
  {},
  'shop',
);
export const STAND_IN_COOKIE_KEYS = TEST_KEYS('ES256').cookie;

export interface StandInOperator {
  /** The source arguments of a sidecar of this operator (`--operator-url`, CA, token file). */
  readonly sourceArgs: string[];
  /** What the next session ends are answered with. */
  answer: SessionEndAnswer;
  /** Session ends posted (every try), and those accepted, as sent. */
  readonly posted: () => number;
  readonly taken: unknown[];
  /** Drops every connection (held session end rounds, config streams). */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * An HTTPS stand-in for the operator: its config stream sends one config and never a revocation
 * (so only the sidecar itself can end a session), and its session ends route answers as told.
 */
export async function startStandInOperator(
  config: SidecarConfig = STAND_IN_CONFIG,
): Promise<StandInOperator> {
  const tls = selfSignedCertificate();
  const tokenFile = join(tls.certFile, '..', 'pod-token');
  writeFileSync(tokenFile, 'pod-token');
  let posted = 0;
  const taken: unknown[] = [];
  const standIn = { answer: 'accept' as SessionEndAnswer };
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (req.method === 'POST' && req.url === SESSION_ENDS_PATH) {
      posted++;
      const answer = standIn.answer;
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      if (answer === 'hold') return; // answers nothing, holds the connection
      if (answer === 'drop') {
        req.socket.destroy(); // mid-request, no answer
        return;
      }
      req.on('end', () => {
        if (answer === 'accept') taken.push(JSON.parse(body));
        res.writeHead(answer === 'accept' ? 201 : answer === 'refuse' ? 409 : 503).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(streamLine({ type: 'config', config }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(standIn, {
    sourceArgs: ['--operator-url', url, '--operator-ca', tls.certFile, '--token-file', tokenFile],
    posted: () => posted,
    taken,
    dropConnections: () => server.closeAllConnections(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
