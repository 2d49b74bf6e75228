import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { eventually, sleep } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import { assertLogLinesMatchSchema } from '../helpers/log-line-check.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { inProgressApplication } from '../helpers/requests-in-progress.ts';
import {
  loopbackAppDir,
  runGatehouse,
  type SidecarProcess,
  startSidecarProcess,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A request's line is written at its end: a stream of events, a long download or a WebSocket open
// for hours was in no log until then, and in none at all when the sidecar was killed first (an
// out-of-memory kill, a node lost). The built sidecar writes a `request_in_progress` line for each
// request that has lasted `--in-progress-interval`, and one each interval after; `gatehouse audit`
// shows such a request as in progress until its request line replaces it.

let upstream: TestUpstream;
let sockets: WebSocketServer;
beforeAll(async () => {
  upstream = await startUpstream(inProgressApplication);
  sockets = new WebSocketServer({ server: upstream.server });
  sockets.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
});
afterAll(async () => {
  sockets?.close();
  await upstream?.close();
});

const inProgressOf = (sidecar: SidecarProcess, uri: string): JsonLine[] =>
  sidecar.lines.filter((l) => l.type === 'request_in_progress' && l.uri === uri);
const requestLinesOf = (sidecar: SidecarProcess, uri: string): JsonLine[] =>
  sidecar.lines.filter((l) => l.type === 'request' && l.uri === uri);

/** Opens a stream of events and reads it until told to stop; resolves its status once it ends. */
async function openStream(port: number, path: string) {
  const controller = new AbortController();
  const response = await request(`http://127.0.0.1:${port}${path}`, { signal: controller.signal });
  const ended = (async () => {
    try {
      for await (const _ of response.body);
    } catch {}
  })();
  return {
    status: response.statusCode,
    async stop() {
      controller.abort();
      await ended;
    },
  };
}

describe('requests in progress are logged while they last', () => {
  let sidecar: SidecarProcess;
  beforeAll(async () => {
    sidecar = await startSidecarProcess(loopbackAppDir(upstream.url), ['--in-progress-interval', '1s']);
  });
  afterAll(async () => {
    await sidecar?.stop();
  });

  it('a stream and a tunnel: a line each interval with what went so far; a short request: none', async () => {
    const stream = await openStream(sidecar.port, '/feed/events?token=secret-value');
    expect(stream.status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/socket`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send('hello');
    const short = await request(`http://127.0.0.1:${sidecar.port}/page`);
    await short.body.text();

    await eventually(
      'two lines of the stream',
      () => inProgressOf(sidecar, '/feed/events?token=[REDACTED]').length >= 2,
      5_000,
    );
    await eventually('a line of the tunnel', () => inProgressOf(sidecar, '/socket').length >= 1, 3_000);
    const lines = inProgressOf(sidecar, '/feed/events?token=[REDACTED]');
    const [first, second] = lines as [JsonLine, JsonLine];
    expect(first).toMatchObject({
      method: 'GET',
      status: 200,
      upgrade: false,
      identity: null,
      sessionId: null,
    });
    expect(first.requestId).toBe(second.requestId);
    expect(Number(first.elapsedMs)).toBeGreaterThanOrEqual(1_000);
    expect(Number(second.elapsedMs) - Number(first.elapsedMs)).toBeGreaterThanOrEqual(900);
    // What went to the client so far: the events keep coming, so the count grows.
    expect(Number(second.bytesOut)).toBeGreaterThan(Number(first.bytesOut));
    expect(inProgressOf(sidecar, '/socket')[0]).toMatchObject({ status: 101, upgrade: true });
    expect(inProgressOf(sidecar, '/page')).toEqual([]);
    expect(JSON.stringify(sidecar.lines)).not.toContain('secret-value');

    // Ended, each gets its one request line with the same id, and no more in-progress lines.
    await stream.stop();
    ws.close();
    await eventually(
      'the request lines',
      () =>
        requestLinesOf(sidecar, '/feed/events?token=[REDACTED]').length === 1 &&
        requestLinesOf(sidecar, '/socket').length === 1,
    );
    expect(requestLinesOf(sidecar, '/feed/events?token=[REDACTED]')[0]?.requestId).toBe(first.requestId);
    const count = inProgressOf(sidecar, '/feed/events?token=[REDACTED]').length;
    await sleep(1_300);
    expect(inProgressOf(sidecar, '/feed/events?token=[REDACTED]').length).toBe(count);
    assertLogLinesMatchSchema(sidecar.lines);
  }, 20_000);
});

describe('a stream open at the sidecar\u2019s shutdown', () => {
  it('lines while it lasts, then its one request line, none after, and the sidecar exits within its grace', async () => {
    const sidecar = await startSidecarProcess(loopbackAppDir(upstream.url), [
      '--in-progress-interval',
      '1s',
      '--shutdown-grace',
      '3s',
    ]);
    const stream = await openStream(sidecar.port, '/closing/events');
    try {
      await eventually(
        'its in-progress line',
        () => inProgressOf(sidecar, '/closing/events').length >= 1,
        4_000,
      );
      const began = performance.now();
      expect(await sidecar.stop()).toBe(0);
      expect(performance.now() - began).toBeLessThan(3_800);
    } finally {
      await stream.stop();
    }
    const lines = sidecar.lines;
    const ended = lines.findIndex((l) => l.type === 'request' && l.uri === '/closing/events');
    expect(ended).toBeGreaterThan(-1);
    expect(lines.slice(ended + 1).some((l) => l.type === 'request_in_progress')).toBe(false);
    expect(requestLinesOf(sidecar, '/closing/events')).toHaveLength(1);
    expect(lines.at(-1)?.type).toBe('sidecar_stopped');
  }, 20_000);
});

/** The rows of `gatehouse audit requests --path /export/*` over a log file, as JSON lines. */
async function auditedRequests(log: string): Promise<Record<string, unknown>[]> {
  const run = await runGatehouse(['audit', 'requests', '--path', '/export/*', '--format', 'jsonl', log]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a sidecar killed with a download in progress', () => {
  it('the audit still shows the request, as in progress, and once it has its line, only that', async () => {
    const sidecar = await startSidecarProcess(loopbackAppDir(upstream.url), ['--in-progress-interval', '1s']);
    const stream = await openStream(sidecar.port, '/export/events');
    try {
      await eventually(
        'its in-progress line',
        () => inProgressOf(sidecar, '/export/events').length >= 1,
        4_000,
      );
      sidecar.child.kill('SIGKILL');
      await new Promise((resolve) => sidecar.child.once('exit', resolve));
    } finally {
      await stream.stop();
    }
    expect(requestLinesOf(sidecar, '/export/events')).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-in-progress-'));
    const log = join(dir, 'sidecar.log');
    writeFileSync(log, `${sidecar.lines.map((l) => JSON.stringify(l)).join('\n')}\n`);

    const rows = await auditedRequests(log);
    expect(rows).toHaveLength(1);
    const last = inProgressOf(sidecar, '/export/events').at(-1) as JsonLine;
    expect(rows[0]).toMatchObject({
      uri: '/export/events',
      outcome: 'in_progress',
      requestId: last.requestId,
      end: last.time,
    });

    // With its request line after its in-progress lines (a sidecar that lived on), that line alone.
    const line = requestLine({
      requestId: last.requestId,
      app: last.app,
      uri: last.uri,
      start: String(last.start),
      end: new Date(Date.parse(String(last.time)) + 5_000).toISOString(),
    });
    writeFileSync(log, `${sidecar.lines.map((l) => JSON.stringify(l)).join('\n')}\n${line}\n`);
    const after = await auditedRequests(log);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ outcome: 'served', requestId: last.requestId });
  }, 20_000);
});
