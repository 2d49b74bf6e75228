import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/backoff.ts';
import { eventually } from '../helpers/operator-cluster.ts';
import {
  anonymousRssBytes,
  loopbackAppDir,
  type SidecarProcess,
  startSidecarProcess,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const MIB = 1024 * 1024;
/**
 * What a quiet sidecar gives back after 6,000 requests over 200 connections: the young generation
 * the load grew to 8 MiB and the old generation's free pages (lib/idle-collection.ts). 42 to 58
 * MiB measured here; nothing without the collection (V8's own memory reducer does not run in
 * Node.js 24 before a memory-reducing collection has; an ordinary full collection in its place
 * gave back nothing), so the drop is the test. With a quiet time of 1 s the sidecar's collection
 * comes before V8's reducer, whose checks are 8 s apart, finds the load over.
 */
const GIVEN_BACK_AT_LEAST = 16 * MIB;

async function collections(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return Number(/^gatehouse_idle_collections_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/**
 * Keeps `connections` small GETs in flight until `requests` were served (or `ms` ran out, on a
 * starved machine); how much the load grows memory follows the requests served, not the time.
 */
async function load(url: string, connections: number, requests: number, ms: number): Promise<number> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const until = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (done < requests && performance.now() < until) {
        const res = await pool.request({ path: '/small', method: 'GET' });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        done++;
      }
    }),
  );
  await pool.close();
  return done;
}

describe('a quiet sidecar gives memory back', () => {
  let upstream: TestUpstream;
  let proc: SidecarProcess;
  beforeAll(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    proc = await startSidecarProcess(loopbackAppDir(upstream.url), ['--idle-collection-after', '1s']);
  });
  afterAll(async () => {
    await proc.stop();
    await upstream.close();
  });

  it('one memory-reducing collection once no request has started for the quiet time, none under load', async () => {
    const pid = proc.child.pid as number;
    // The start's own collection, a quiet time after the start.
    await eventually(async () => (await collections(proc.adminPort)) === 1, 10_000, 'the collection at rest');

    // A few requests with quiet times between them, past the least gap (six quiet times): they
    // grow the heap by nothing worth giving back, so no collection throws away the optimized
    // code they run (before: a second collection here).
    for (let i = 0; i < 4; i++) {
      expect(await load(`http://127.0.0.1:${proc.port}`, 1, 3, 5_000)).toBe(3);
      await sleep(2_000);
    }
    expect(await collections(proc.adminPort)).toBe(1);

    const served = await load(`http://127.0.0.1:${proc.port}`, 200, 6_000, 20_000);
    expect(served).toBeGreaterThanOrEqual(6_000);
    const afterLoad = anonymousRssBytes(pid);
    // Under load (seconds, several quiet times of 1 s) nothing ran.
    expect(await collections(proc.adminPort)).toBe(1);

    // Quiet: a collection between one and one and a half quiet times later, and no earlier than
    // six quiet times after the previous one; a load balancer's readiness checks meanwhile (GKE
    // checks every few seconds from several probers) do not count as work.
    const checks = setInterval(() => {
      void fetch(`http://127.0.0.1:${proc.port}/.gatehouse/ready`).then((r) => r.arrayBuffer());
    }, 200);
    try {
      await eventually(
        async () => (await collections(proc.adminPort)) === 2,
        15_000,
        'the collection after the load',
      );
    } finally {
      clearInterval(checks);
    }
    expect(
      proc.lines.filter((l) => l.type === 'request' && l.uri === '/.gatehouse/ready' && l.status === 200)
        .length,
    ).toBeGreaterThanOrEqual(2); // checks came within the quiet time (it is 1 s to 1.5 s)
    const atRest = anonymousRssBytes(pid);
    console.warn(
      `anonymous memory after 200 connections ${(afterLoad / MIB).toFixed(1)} MiB, after the collection ${(atRest / MIB).toFixed(1)} MiB`,
    );
    expect(afterLoad - atRest).toBeGreaterThanOrEqual(GIVEN_BACK_AT_LEAST);

    // Served as before afterwards.
    expect(await load(`http://127.0.0.1:${proc.port}`, 4, 20, 5_000)).toBeGreaterThanOrEqual(20);
  }, 60_000);
});
