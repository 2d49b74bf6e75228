import { appendFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { streamLine } from '../../contract/config-stream.ts';
import { processKeys } from '../../sidecar/src/auth/process-keys.ts';
import type { ConfigListener } from '../../sidecar/src/config/config-source.ts';
import { createFileConfigSource } from '../../sidecar/src/config/file-source.ts';
import { createOperatorConfigSource } from '../../sidecar/src/config/operator-source.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually, sleep } from '../helpers/hostile.ts';
import { applicationYaml, loopbackAppDir } from '../helpers/sidecar-process.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

// A config source tells its listener of work (a change about to be parsed and checked) before the
// config or its rejection, so the sidecar samples the event loop's delay over a large config's
// parse: not for a heartbeat or an unchanged file, which cost microseconds and come at rest.

/** A listener that records what it is told, in order. */
function recording(): { listener: ConfigListener; told: string[] } {
  const told: string[] = [];
  return {
    told,
    listener: {
      onWork: () => told.push('work'),
      onConfig: (c) => told.push(`config ${c.generation}`),
      onRejected: (e) => told.push(`rejected ${e.code}`),
    },
  };
}

const configLine = (generation: string): string =>
  streamLine({ type: 'config', config: { ...testConfig(), generation } satisfies SidecarConfig });

describe('config sources tell of work before a change is read', () => {
  it('the operator stream: for each config line, not for heartbeats', async () => {
    const tls = selfSignedCertificate();
    const tokenFile = join(tls.certFile, '..', 'token');
    writeFileSync(tokenFile, 'token');
    const streams: ServerResponse[] = [];
    const server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
      streams.push(res);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(configLine('aaaaaaaaaaaaaaaa'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { listener, told } = recording();
    const source = createOperatorConfigSource(
      { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: tls.cert, tokenFile },
      listener,
    );
    try {
      await source.start();
      expect(told).toEqual(['work']); // the first config is start()'s answer
      const stream = streams[0];
      if (!stream) throw new Error('no stream');
      for (let i = 0; i < 3; i++) stream.write(streamLine({ type: 'heartbeat' }));
      await sleep(200);
      expect(told).toEqual(['work']);
      stream.write(configLine('bbbbbbbbbbbbbbbb'));
      await eventually('the second config', () => told.length === 3);
      expect(told).toEqual(['work', 'work', 'config bbbbbbbbbbbbbbbb']);
    } finally {
      source.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('the file source: for a changed file, not for the polls that find it unchanged', async () => {
    const dir = loopbackAppDir('http://127.0.0.1:9');
    const { listener, told } = recording();
    const source = createFileConfigSource(
      { path: dir, pollIntervalMs: 50, fallbackKeys: processKeys() },
      listener,
    );
    try {
      await source.start();
      await sleep(300); // six polls of the same files
      expect(told).toEqual([]);
      appendFileSync(join(dir, 'app.yaml'), '\n# changed\n');
      await eventually('the change', () => told.length === 2);
      expect(told[0]).toBe('work');
      expect(told[1]).toMatch(/^config /);
    } finally {
      source.close();
    }
  });
});

describe('the file source and a file written in place', () => {
  /** Truncates the file, then writes it whole a moment later: a reader between the two sees it empty. */
  async function writtenInPlace(file: string, text: string): Promise<void> {
    writeFileSync(file, '');
    await sleep(70); // the watcher's read of the empty file is done (50 ms after it was told)
    writeFileSync(file, text);
  }

  it('a valid file read half-written is no refusal: the config loads, nothing is rejected', async () => {
    const dir = loopbackAppDir('http://127.0.0.1:9');
    const { listener, told } = recording();
    const source = createFileConfigSource(
      { path: dir, pollIntervalMs: 5_000, fallbackKeys: processKeys() },
      listener,
    );
    try {
      await source.start();
      await writtenInPlace(
        join(dir, 'app.yaml'),
        applicationYaml({ hosts: ['127.0.0.1'], upstream: { url: 'http://127.0.0.1:10' } }),
      );
      await eventually('the new config', () => told.some((t) => t.startsWith('config ')));
      await sleep(500);
      expect(told.filter((t) => t.startsWith('rejected'))).toEqual([]);
    } finally {
      source.close();
    }
  });

  it('an invalid file read half-written is refused once, for what it holds when whole', async () => {
    const dir = loopbackAppDir('http://127.0.0.1:9');
    const rejected: string[] = [];
    const source = createFileConfigSource(
      { path: dir, pollIntervalMs: 5_000, fallbackKeys: processKeys() },
      {
        onConfig: () => undefined,
        onRejected: (e) => rejected.push(e.errors.map((x) => x.message).join('; ')),
      },
    );
    try {
      await source.start();
      await writtenInPlace(
        join(dir, 'app.yaml'),
        applicationYaml({
          hosts: ['127.0.0.1'],
          upstream: { url: 'http://127.0.0.1:10', maxConnections: -1 },
        }),
      );
      await eventually('the refusal', () => rejected.length > 0);
      await sleep(500);
      expect(rejected).toEqual(['must be >= 1']);
    } finally {
      source.close();
    }
  });
});
