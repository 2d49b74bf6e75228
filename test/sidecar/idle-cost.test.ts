import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/backoff.ts';
import { eventually } from '../helpers/hostile.ts';
import { loopbackAppDir, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * A sidecar runs in every pod, most of the time with nothing to do: what it costs at rest is paid
 * once per pod. Each wakeup of its request thread is a turn of the event loop (about 150 µs of
 * CPU here); these count them for the built sidecar, started as shipped, after it has served.
 */

let upstream: TestUpstream;

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream.close();
});

/** Times the request thread (the process's main thread) gave up the CPU of its own accord. */
function voluntarySwitches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
}

/** The event loop delay's summaries in a scrape of the admin port, by name (min, max, p99, ...). */
async function loopDelay(adminPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const found = new Map<string, number>();
  for (const m of text.matchAll(/^gatehouse_process_nodejs_eventloop_lag_(\w+?)_seconds (\S+)$/gm))
    found.set(m[1] as string, Number(m[2]));
  return found;
}

describe('a sidecar at rest', () => {
  it('is woken about twice a second once quiet; the event loop delay is sampled while it serves', async () => {
    const dir = loopbackAppDir(upstream.url);
    // The default file re-check (every second), as a sidecar started from a config file runs; at
    // rest one second after the last request.
    const sidecar = await startSidecarProcess({ sourceArgs: ['--config', dir] }, [
      '--idle-collection-after',
      '1s',
    ]);
    try {
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`http://127.0.0.1:${sidecar.port}/warm`, {
          headers: { connection: 'close' },
        });
        expect(response.status).toBe(200);
        await response.text();
      }
      await sleep(300); // a few samples, one every 100 ms
      const serving = await loopDelay(sidecar.adminPort);
      expect(serving.get('max')).toBeGreaterThan(0);
      expect(serving.get('max')).toBeLessThan(1);
      // Quiet: the delay sampling stops one to two seconds after the last request, and the idle
      // collection has run by then too.
      await sleep(3_000);
      const pid = sidecar.child.pid as number;
      const before = voluntarySwitches(pid);
      const seconds = 3;
      await sleep(seconds * 1_000);
      const perSecond = (voluntarySwitches(pid) - before) / seconds;
      // Left at rest: the idle collection's check (every half quiet time: twice a second here,
      // every 5 s by default), the config file re-check and Node.js's connection checks of its two
      // servers (once a second each; the two servers' come together): about 5 a second measured.
      // Sampling the delay at rest woke it ten more times a second (about 15 measured); the
      // slow-body check once more; prom-client's default sampling alone was 100 a second.
      expect(perSecond).toBeLessThan(8);
      await loopDelay(sidecar.adminPort); // the summaries since the last scrape
      const atRest = await loopDelay(sidecar.adminPort);
      expect(atRest.get('max')).toBe(0);
      expect(atRest.get('p99')).toBe(0);
      expect(atRest.get('lag')).toBeUndefined(); // the plain gauge has no suffix

      // A config to apply is work too: a large one's compile is a stall the gauges must show.
      const loaded = sidecar.lines.filter((l) => l.type === 'config_loaded').length;
      appendFileSync(join(dir, 'app.yaml'), '\n# changed\n');
      await eventually(
        'the config applied',
        () => sidecar.lines.filter((l) => l.type === 'config_loaded').length > loaded,
      );
      await sleep(300);
      expect((await loopDelay(sidecar.adminPort)).get('max')).toBeGreaterThan(0);
    } finally {
      await sidecar.stop();
    }
  });
});
