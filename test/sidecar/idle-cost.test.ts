import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/backoff.ts';
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

describe('a sidecar at rest', () => {
  it('wakes its request thread at most a few times a second, and still reports event loop lag', async () => {
    const dir = loopbackAppDir(upstream.url);
    // The default file re-check (every second), as a sidecar started from a config file runs.
    const sidecar = await startSidecarProcess({ sourceArgs: ['--config', dir] });
    try {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/warm`);
      expect(response.status).toBe(200);
      await response.text();
      await sleep(1_000); // the first request's after-work (compiles, log flush) is done
      const pid = sidecar.child.pid as number;
      const before = voluntarySwitches(pid);
      const seconds = 3;
      await sleep(seconds * 1_000);
      const perSecond = (voluntarySwitches(pid) - before) / seconds;
      // Timers of a sidecar at rest: the event loop delay sample (10 a second), the config file
      // re-check and the slow-body check (once a second each). prom-client's default sampling
      // alone was 100 a second.
      expect(perSecond).toBeLessThan(25);

      const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
      const lagMax = /^gatehouse_process_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1];
      expect(Number(lagMax)).toBeGreaterThan(0);
      expect(Number(lagMax)).toBeLessThan(1);
    } finally {
      await sidecar.stop();
    }
  });
});
