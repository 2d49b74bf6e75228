import { spawn } from 'node:child_process';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { applicationYaml, SIDECAR_ENV, sidecarArgv, writeConfigDir } from '../helpers/sidecar-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const TOTAL = 10_000;
const CONCURRENCY = 50;

describe('log completeness', () => {
  let closeUpstream: (() => Promise<void>) | undefined;
  afterAll(async () => closeUpstream?.());

  it(`${TOTAL} requests with client aborts and upstream failures, slow stdout reader, then SIGTERM: one line per request id`, async () => {
    const upstream = await startUpstream((req, res) => {
      if (req.url?.startsWith('/fail')) {
        req.socket.destroy(); // upstream failure: connection dropped without an answer
      } else if (req.url?.startsWith('/stream')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(16 * 1024));
        const timer = setTimeout(() => res.end(Buffer.alloc(16 * 1024)), 2000);
        res.on('close', () => clearTimeout(timer));
      } else {
        res.end('ok');
      }
    });
    closeUpstream = () => upstream.close();
    const dir = writeConfigDir(
      applicationYaml({
        hosts: ['127.0.0.1'],
        upstream: { url: upstream.url },
        trustedProxies: ['127.0.0.1'],
      }),
    );
    const child = spawn(process.execPath, sidecarArgv(dir), {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: SIDECAR_ENV,
    });
    const stdout = child.stdout;

    // A deliberately slow reader: takes one chunk, then stops reading for a while, so the pipe stays full.
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      stdout.pause();
      setTimeout(() => stdout.resume(), 40);
    });
    const reading = new Promise<void>((r) => stdout.on('end', () => r()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    let port = 0;
    while (port === 0) {
      const text = Buffer.concat(chunks).toString();
      const started = text.split('\n').find((l) => l.includes('"sidecar_started"'));
      if (started) port = Number(String(JSON.parse(started).listen).split(':').pop());
      else await new Promise((r) => setTimeout(r, 20));
    }

    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY });
    const kinds = { ok: 0, abort: 0, fail: 0 };
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const n = next++;
        const id = `req-${n}`;
        const roll = n % 20;
        if (roll === 0) {
          kinds.abort++;
          const controller = new AbortController();
          try {
            const res = await pool.request({
              path: `/stream/${n}`,
              method: 'GET',
              headers: { 'x-request-id': id },
              signal: controller.signal,
            });
            for await (const _ of res.body) {
              controller.abort();
              break;
            }
          } catch {
            // aborted on purpose
          }
        } else if (roll === 1) {
          kinds.fail++;
          const res = await pool.request({
            path: `/fail/${n}`,
            method: 'GET',
            headers: { 'x-request-id': id },
          });
          expect(res.statusCode).toBe(502);
          await res.body.text();
        } else {
          kinds.ok++;
          const res = await pool.request({
            path: `/ok/${n}`,
            method: 'GET',
            headers: { 'x-request-id': id },
          });
          await res.body.text();
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    child.kill('SIGTERM');
    const code = await exited;
    await reading;
    await pool.close();

    expect(code).toBe(0);
    const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
    const unparseable = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(unparseable.map((l) => l.slice(0, 300))).toEqual([]);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = records.filter((r) => r.type === 'request');
    const counts = new Map<string, number>();
    for (const r of requests) counts.set(String(r.requestId), (counts.get(String(r.requestId)) ?? 0) + 1);
    const missing = Array.from({ length: TOTAL }, (_, n) => `req-${n}`).filter((id) => !counts.has(id));
    const duplicated = [...counts].filter(([, c]) => c !== 1);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(requests).toHaveLength(TOTAL);
    const byOutcome = (o: string) => requests.filter((r) => r.outcome === o).length;
    expect(byOutcome('client_abort')).toBe(kinds.abort);
    expect(byOutcome('upstream_error')).toBe(kinds.fail);
    expect(byOutcome('served')).toBe(kinds.ok);
    // Requests still in flight at SIGTERM are drained and logged between stopping and stopped.
    const tail = records.slice(records.findIndex((r) => r.type === 'sidecar_stopping'));
    expect(tail[0]?.type).toBe('sidecar_stopping');
    expect(tail.at(-1)?.type).toBe('sidecar_stopped');
    expect(tail.slice(1, -1).every((r) => r.type === 'request')).toBe(true);
  }, 180_000);
});
