import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReportFailed } from '../../sidecar/src/auth/session-ends.ts';
import { createOperatorConfigSource } from '../../sidecar/src/config/operator-source.ts';
import { operatorReporter } from '../../sidecar/src/config/session-end-reporters.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually } from '../helpers/hostile.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

// What answers in the operator's place (a half-dead operator, a proxy or a mesh in the path) may
// refuse with a body that never ends, or never comes. The sidecar quoted the whole body in its
// error: it read on for as long as it came (the config stream has no body timeout, it is a
// stream), holding the memory and the reconnect, or the session end's next try, behind it.

const tls = selfSignedCertificate();
const tokenFile = join(tls.certFile, '..', 'token');
writeFileSync(tokenFile, 'token');
const MIB = 1024 * 1024;

/**
 * An operator stand-in: `answer` serves each request, numbered from 1; `endless` writes a body
 * as fast as it is read, until its reader leaves.
 */
async function standIn(
  answer: (n: number, req: IncomingMessage, res: ServerResponse, endless: () => void) => void,
): Promise<{ url: string; written: () => number; open: () => number; close(): Promise<void> }> {
  let n = 0;
  let written = 0;
  let open = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    open++;
    res.on('close', () => open--);
    const endless = (): void => {
      const pump = (): void => {
        while (!res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return;
        }
      };
      res.on('drain', pump);
      pump();
    };
    answer(++n, req, res, endless);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    written: () => written,
    open: () => open,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/**
 * A config stream whose first connection `refuse` answers (with `endless` at hand) and whose
 * second serves a config: resolves once the sidecar has that config, with how long it took and
 * the connection events it told.
 */
async function configAfterRefusal(refuse: (res: ServerResponse, endless: () => void) => void) {
  const operator = await standIn((n, _req, res, endless) => {
    if (n === 1) return refuse(res, endless);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify({ type: 'config', config: testConfig() })}\n`);
  });
  closers.push(operator.close);
  const events: { connected: boolean; reason?: string }[] = [];
  const source = createOperatorConfigSource(
    {
      url: operator.url,
      ca: tls.cert,
      tokenFile,
      // The stall timeout as shipped is far longer; it is not what ends the refusal.
      stallTimeoutMs: 60_000,
      backoff: { baseMs: 10, maxMs: 20 },
      onConnection: (e) => events.push(e),
    },
    { onConfig: () => undefined, onRejected: () => undefined },
  );
  closers.push(async () => source.close());
  const started = performance.now();
  const first = await source.start();
  expect(first.generation).toBe(testConfig().generation);
  return { operator, events, tookMs: performance.now() - started };
}

describe('an operator that refuses with a body without end', () => {
  it('the config stream quotes its start and reconnects at once; the next answer serves', async () => {
    const { operator, events, tookMs } = await configAfterRefusal((res, endless) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      endless();
    });
    expect(tookMs).toBeLessThan(3_000);
    expect(events[0]).toMatchObject({ connected: false, reason: expect.stringMatching(/503: x{20}/) });
    await eventually('the refusal let go', () => operator.open() <= 1, 3_000);
    expect(operator.written()).toBeLessThan(16 * MIB);
  });

  it('a session end\u2019s report gives up its round in time, and each refusal is let go', async () => {
    const operator = await standIn((_n, req, res, endless) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      endless();
    });
    closers.push(operator.close);
    const reporter = operatorReporter({ url: operator.url, ca: tls.cert, tokenFile });
    const started = performance.now();
    const outcome = await reporter
      .report({ session: 'S'.repeat(22), before: 1, reason: 'logout' }, 'corp/wiki')
      .catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(ReportFailed);
    expect((outcome as ReportFailed).attempts).toBe(6);
    expect((outcome as ReportFailed).message).toMatch(/^operator answered 500: x{20}/);
    // Six tries and their waits (at most 3 s of them), not six bodies read without end.
    expect(performance.now() - started).toBeLessThan(8_000);
    await eventually('every refusal let go', () => operator.open() === 0, 3_000);
    expect(operator.written()).toBeLessThan(64 * MIB);
  });

  it.each([
    ['whose body never comes (silence)', 'silent'],
    ['whose body trickles a byte every 100 ms', 'trickle'],
  ])(
    'a refusal %s: the stream reconnects after 2 s of it, not after the stall timeout',
    async (_what, how) => {
      const { operator, events, tookMs } = await configAfterRefusal((res) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.write('busy');
        if (how === 'trickle') {
          const timer = setInterval(() => res.write('.'), 100);
          res.on('close', () => clearInterval(timer));
        }
      });
      expect(tookMs).toBeGreaterThanOrEqual(1_900);
      expect(tookMs).toBeLessThan(5_000);
      expect(events[0]).toMatchObject({ connected: false, reason: expect.stringMatching(/503: busy/) });
      await eventually('the refusal let go', () => operator.open() <= 1, 3_000);
    },
  );
});
