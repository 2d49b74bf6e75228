import { writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { ACCEPTS_REVOCATION_CHANGES, STREAM_ACCEPTS_HEADER } from '../../contract/config-stream.ts';
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
  const a = { name: 'a', user: 'ann@example.com', subject: null, provider: null, before: 1, reason: null };
  const b = { name: 'b', user: 'bob@example.com', subject: null, provider: null, before: 2, reason: null };
  const c = { name: 'c', user: 'cid@example.com', subject: null, provider: null, before: 3, reason: null };
  const start = withRevocations({ ...testConfig(), revocations: [] }, [a]);

  /** A stand-in operator that sends each connection the lines of its turn; the sidecar's configs and refusals. */
  async function streamOf(turns: string[][]) {
    const accepts: (string | string[] | undefined)[] = [];
    const own = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      accepts.push(req.headers[STREAM_ACCEPTS_HEADER]);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const lines = turns[accepts.length - 1] ?? [];
      res.write(lines[0] ?? '');
      setTimeout(() => res.write(lines.slice(1).join('')), 100);
    });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    const configs: SidecarConfig[] = [];
    const rejected: unknown[] = [];
    const source = createOperatorConfigSource(
      {
        url: `https://127.0.0.1:${(own.address() as AddressInfo).port}`,
        ca: tls.cert,
        tokenFile,
        backoff: { baseMs: 10, maxMs: 20 },
      },
      { onConfig: (config) => configs.push(config), onRejected: (error) => rejected.push(error) },
    );
    const until = async (done: () => boolean): Promise<void> => {
      const started = Date.now();
      while (!done() && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 20));
    };
    const close = async (): Promise<void> => {
      source.close();
      own.closeAllConnections();
      await new Promise((r) => own.close(r));
    };
    return { source, accepts, configs, rejected, until, close };
  }
  const names = (config: SidecarConfig | undefined) => config?.revocations.map((r) => r.name);
  const changed = (added: unknown[], removed: string[], generation: string) =>
    `${JSON.stringify({ type: 'revocations-changed', added, removed, generation })}\n`;

  it('the sidecar asks for them and applies each to the revocations in force, the config the operator says', async () => {
    const after = withRevocations(start, [b]);
    const s = await streamOf([[line(start).toString(), changed([b], ['a'], after.generation)]]);
    try {
      await s.source.start();
      expect(s.accepts).toEqual([ACCEPTS_REVOCATION_CHANGES]);
      await s.until(() => s.configs.length > 0);
      expect(names(s.configs[0])).toEqual(['b']);
      expect(s.configs[0]?.generation).toBe(after.generation);
      expect(s.accepts).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('a malformed one is refused, and the sidecar reconnects for whole lists', async () => {
    const whole = withRevocations(start, [b, c]);
    const s = await streamOf([
      [line(start).toString(), changed([], [42 as unknown as string], 'x')],
      [line(whole).toString()],
    ]);
    try {
      await s.source.start();
      await s.until(() => s.configs.length > 0);
      expect(String(s.rejected[0])).toMatch(/malformed/);
      expect(s.accepts).toHaveLength(2);
      expect(names(s.configs.at(-1))).toEqual(['b', 'c']);
    } finally {
      await s.close();
    }
  });

  it('one that leads elsewhere than the operator says (a line refused before) is kept, and the sidecar reconnects', async () => {
    // The operator believes the sidecar has [a, c] (the sidecar refused that line); it adds b.
    const believed = withRevocations(start, [a, b, c]);
    const s = await streamOf([
      [line(start).toString(), changed([b], [], believed.generation)],
      [line(believed).toString()],
    ]);
    try {
      await s.source.start();
      await s.until(() => s.configs.length > 1);
      // b is enforced at once, then the whole list comes with the new stream.
      expect(s.configs.map(names)).toEqual([
        ['a', 'b'],
        ['a', 'b', 'c'],
      ]);
      expect(s.accepts).toHaveLength(2);
      expect(s.rejected).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
