import { describe, expect, it } from 'vitest';
import { eventLoopDelayGauges } from '../../lib/metrics/event-loop-delay.ts';
import { registerProcessMetrics } from '../../lib/metrics/process-metrics.ts';
import { collectDefaultMetrics, Registry } from '../../lib/metrics/prom-core.ts';
import { sleep } from '../helpers/hostile.ts';

/** The event loop delay's values in one scrape, by suffix ('' for the plain lag gauge). */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const m of (await registry.metrics()).matchAll(/^t_nodejs_eventloop_lag_?(\w*?)_?seconds (\S+)$/gm))
    found.set(m[1] as string, Number(m[2]));
  return found;
}

function gauges(quietMs: number) {
  const registry = new Registry();
  const delay = eventLoopDelayGauges({ registry, prefix: 't_', resolutionMs: 10, quietMs });
  return { registry, delay };
}

describe('the event loop delay, sampled while there is work', () => {
  it('the process metrics are prom-client defaults, names and kinds, with the delay gauges in place of its own', async () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: 't_' });
    const ours = new Registry();
    registerProcessMetrics(ours, 't_');
    eventLoopDelayGauges({ registry: ours, prefix: 't_', resolutionMs: 100, quietMs: 1_000 });
    const shape = async (r: Registry) =>
      (await r.getMetricsAsJSON()).map((m) => `${m.name} ${m.type} ${m.help}`).sort();
    expect(await shape(ours)).toEqual(await shape(defaults));
  });

  it('a stall while busy shows in the summaries; the plain gauge reads a turn of the loop now', async () => {
    const { registry, delay } = gauges(1_000);
    delay.busy();
    await sleep(50);
    const until = performance.now() + 300;
    while (performance.now() < until); // a stall of 300 ms
    await sleep(30);
    const values = await scrape(registry);
    expect(values.get('max')).toBeGreaterThanOrEqual(0.25);
    expect(values.get('p99')).toBeGreaterThanOrEqual(0.25);
    expect(values.get('min')).toBeGreaterThan(0);
    expect(values.get('')).toBeGreaterThanOrEqual(0);
    expect(values.get('')).toBeLessThan(0.25);
    // The summaries cover the samples since the last scrape: the stall is not read twice.
    await sleep(50);
    expect((await scrape(registry)).get('max')).toBeLessThan(0.25);
  });

  it('stops sampling a quiet time after the last work (summaries 0), and starts again with the next', async () => {
    const { registry, delay } = gauges(100);
    expect(delay.sampling).toBe(false);
    delay.busy();
    expect(delay.sampling).toBe(true);
    // Work every 50 ms keeps it sampling past several quiet times.
    for (let i = 0; i < 6; i++) {
      await sleep(50);
      delay.busy();
    }
    expect(delay.sampling).toBe(true);
    await sleep(350); // between one and two quiet times after the last work, and more
    expect(delay.sampling).toBe(false);
    await scrape(registry); // what was sampled before it stopped
    const idle = await scrape(registry);
    for (const name of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) expect(idle.get(name)).toBe(0);
    delay.busy();
    expect(delay.sampling).toBe(true);
    await sleep(60);
    expect((await scrape(registry)).get('max')).toBeGreaterThan(0);
  });
});
