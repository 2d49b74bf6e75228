import { writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import {
  ACCEPTS_REVOCATION_CHANGES,
  STREAM_ACCEPTS_HEADER,
  streamLine,
} from '../../contract/config-stream.ts';
import { createOperatorConfigSource } from '../../sidecar/src/config/operator-source.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

// The sidecar's config stream against a stand-in operator on loopback: a line split anywhere
// (inside a UTF-8 character too) arrives whole, and a stream that goes silent is abandoned after
// the stall timeout and reconnected, where the next config is received.

const REASON = 'stolen laptop — Zoë 🚀';
const tls = selfSignedCertificate();
const tokenFile = join(tls.certFile, '..', 'token');
let server: Server;
let url: string;
const connections: ServerResponse[] = [];

function line(config: SidecarConfig): Buffer {
  return Buffer.from(`${JSON.stringify({ type: 'config', config })}\n`);
}

const withReason = (generation: string): SidecarConfig => ({
  ...testConfig(),
  generation,
  revocations: [
    { name: 'r1', user: 'zoe@example.com', subject: null, provider: null, before: 1, reason: REASON },
  ],
});

beforeAll(async () => {
  writeFileSync(tokenFile, 'token');
  server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    connections.push(res);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const bytes = line(withReason(connections.length === 1 ? 'aaaaaaaaaaaaaaaa' : 'bbbbbbbbbbbbbbbb'));
    // Cut inside the 4-byte emoji, and send the rest a moment later; then say nothing more.
    const cut = bytes.indexOf(Buffer.from('🚀')) + 2;
    res.write(bytes.subarray(0, cut));
    setTimeout(() => res.write(bytes.subarray(cut)), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('operator config stream', () => {
  it('receives a line split inside a character whole, and reconnects after a silent stall', async () => {
    const events: { connected: boolean; reason?: string }[] = [];
    const later: SidecarConfig[] = [];
    const source = createOperatorConfigSource(
      {
        url,
        ca: tls.cert,
        tokenFile,
        stallTimeoutMs: 400,
        backoff: { baseMs: 10, maxMs: 20 },
        onConnection: (e) => events.push(e),
      },
      { onConfig: (c) => later.push(c), onRejected: (e) => later.push(e as never) },
    );
    try {
      const first = await source.start();
      expect(first.generation).toBe('aaaaaaaaaaaaaaaa');
      expect(first.revocations[0]?.reason).toBe(REASON);

      const started = Date.now();
      while (later.length === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 20));
      expect(later.map((c) => c.generation)).toEqual(['bbbbbbbbbbbbbbbb']);
      expect(later[0]?.revocations[0]?.reason).toBe(REASON);
      expect(connections).toHaveLength(2);
      expect(events.find((e) => !e.connected)?.reason).toBe('no data for 400 ms');
      // The first stream was given up by the sidecar no sooner than the stall timeout.
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      source.close();
    }
  });
});

describe('a config line with the generation in force', () => {
  it('changes nothing and is not checked again (the operator sends one after every revocation it sent on its own)', async () => {
    const same = { ...testConfig(), generation: 'cccccccccccccccc' };
    // Were it checked, this copy would be refused: its content is not what its generation says.
    const sameButInvalid = { ...same, trustedProxies: ['not-a-cidr'] };
    const next = { ...testConfig(), generation: 'dddddddddddddddd' };
    const own = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(line(same));
      setTimeout(() => res.write(Buffer.concat([line(sameButInvalid), line(next)])), 100);
    });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    const configs: SidecarConfig[] = [];
    const rejected: unknown[] = [];
    const source = createOperatorConfigSource(
      { url: `https://127.0.0.1:${(own.address() as AddressInfo).port}`, ca: tls.cert, tokenFile },
      { onConfig: (c) => configs.push(c), onRejected: (e) => rejected.push(e) },
    );
    try {
      expect((await source.start()).generation).toBe('cccccccccccccccc');
      const started = Date.now();
      while (configs.length === 0 && Date.now() - started < 5_000)
        await new Promise((r) => setTimeout(r, 20));
      expect(configs.map((c) => c.generation)).toEqual(['dddddddddddddddd']);
      expect(rejected).toEqual([]);
    } finally {
      source.close();
      own.closeAllConnections();
      await new Promise((r) => own.close(r));
    }
  });
});

describe('revocations-changed messages', () => {
  it('the sidecar asks for them, applies each to the revocations in force, and rejects a malformed one', async () => {
    const a = { name: 'a', user: 'ann@example.com', subject: null, provider: null, before: 1, reason: null };
    const b = { name: 'b', user: 'bob@example.com', subject: null, provider: null, before: 2, reason: null };
    const start = withRevocations({ ...testConfig(), revocations: [] }, [a]);
    let accepts: string | string[] | undefined;
    const own = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      accepts = req.headers[STREAM_ACCEPTS_HEADER];
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(line(start));
      setTimeout(() => {
        res.write(streamLine({ type: 'revocations-changed', added: [b], removed: ['a'] }));
        res.write('{"type":"revocations-changed","added":[],"removed":[42]}\n');
      }, 100);
    });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    const configs: SidecarConfig[] = [];
    const rejected: unknown[] = [];
    const source = createOperatorConfigSource(
      { url: `https://127.0.0.1:${(own.address() as AddressInfo).port}`, ca: tls.cert, tokenFile },
      { onConfig: (c) => configs.push(c), onRejected: (e) => rejected.push(e) },
    );
    try {
      await source.start();
      expect(accepts).toBe(ACCEPTS_REVOCATION_CHANGES);
      const started = Date.now();
      while (rejected.length === 0 && Date.now() - started < 5_000)
        await new Promise((r) => setTimeout(r, 20));
      expect(configs.map((c) => c.revocations.map((r) => r.name))).toEqual([['b']]);
      // The same config as a render with those revocations would be: same generation.
      expect(configs[0]?.generation).toBe(withRevocations(start, [b]).generation);
      expect(String(rejected[0])).toMatch(/malformed/);
    } finally {
      source.close();
      own.closeAllConnections();
      await new Promise((r) => own.close(r));
    }
  });
});
