import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRaw, sleep, statusesOf } from '../helpers/hostile.ts';
import {
  applicationYaml,
  policyYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The request path is client input, and every policy with a `paths` selector reads it. Path globs
// were one regular expression: a glob with two or three inner `**` (here a plausible one, the
// exports of any team's reports) backtracked over a path of repeated segments, so one anonymous
// request of 10 KB held the built sidecar's only thread for 5.2 s, one of 16 KB for longer, and
// every other client waited. The globs are a walk over the path's segments now.

const GLOB = '/**/team/**/reports/**/export';
/** Under the default 16 KB head: 1,500 + 1,000 repeated segments, and no `export` at the end. */
const HOSTILE_PATH = `${'/team'.repeat(1_500)}${'/reports'.repeat(1_000)}/summary`;

let upstream: TestUpstream;
let proc: SidecarProcess;

beforeAll(async () => {
  upstream = await startUpstream();
  proc = await startSidecarProcess(
    writeConfigDir(
      [
        applicationYaml({
          hosts: ['127.0.0.1'],
          upstream: { url: upstream.url },
          policies: [{ name: 'public' }, { name: 'report-exports' }],
        }),
        policyYaml('public', { decision: 'bypass', include: [{ paths: ['/public/**'] }] }),
        policyYaml('report-exports', { decision: 'bypass', include: [{ paths: [GLOB] }] }),
      ].join('---\n'),
    ),
  );
});
afterAll(async () => {
  await proc?.stop();
  await upstream?.close();
});

/** The slowest of polite GETs sent one after another for `ms`. */
async function slowestPoliteRequest(ms: number): Promise<number> {
  let slowest = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const started = performance.now();
    // Bounded, so a sidecar that freezes fails the test in seconds rather than holding it.
    const res = await request(`http://127.0.0.1:${proc.port}/public/page`, { headersTimeout: 2_000 });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

describe('policy paths against hostile request paths', () => {
  it('the glob still matches what it names', async () => {
    const res = await request(`http://127.0.0.1:${proc.port}/a/team/b/reports/2026/export`);
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  });

  it(`paths of ${HOSTILE_PATH.length} bytes of repeated segments, from 8 connections without pause: other clients are answered at once`, async () => {
    expect(HOSTILE_PATH.length).toBeGreaterThan(14_000);
    // A line's uri is capped; the hostile paths are the lines whose uri begins with their segments.
    const hostileLines = () =>
      proc.lines.filter((l) => String(l.uri).startsWith('/team/team/team/') && l.status === 403).length;
    const linesBefore = hostileLines();
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) => openRaw(proc.port, `127.0.9.${i + 1}`)),
    );
    let sent = 0;
    let stop = false;
    const flood = clients.map(async (client) => {
      for (let n = 1; !stop; n++) {
        client.socket.write(`GET ${HOSTILE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        sent++;
        // Each waits for its answer (a 403: no policy matches), then asks again.
        const answered = await client.until(() => statusesOf(client.received()).length >= n, 10_000);
        if (!answered) throw new Error(`no answer to hostile request ${n} within 10 s`);
      }
    });
    let slowest: number;
    try {
      await sleep(200);
      slowest = await slowestPoliteRequest(1_500);
    } finally {
      stop = true;
      await Promise.allSettled(flood);
    }
    await Promise.all(flood);
    for (const client of clients) {
      expect(new Set(statusesOf(client.received()))).toEqual(new Set([403]));
      client.socket.destroy();
    }
    // The regular expression held the thread for seconds per hostile request.
    expect(slowest).toBeLessThan(250);
    expect(sent).toBeGreaterThan(80);
    await expect.poll(() => hostileLines() - linesBefore, { timeout: 3_000 }).toBe(sent);
  });
});
