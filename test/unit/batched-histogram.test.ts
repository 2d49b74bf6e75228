import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createBatchedHistogram } from '../../sidecar/src/metrics/batched-histogram.ts';
import { createSidecarMetrics } from '../../sidecar/src/metrics/metrics.ts';
import { seededRandom as random } from '../helpers/seeded-random.ts';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Durations with bucket bounds themselves, zero, tiny and huge values among them. */
function durations(next: () => number, n: number): number[] {
  return Array.from({ length: n }, () => {
    const r = next();
    if (r < 0.1) return BUCKETS[Math.floor(next() * BUCKETS.length)] as number;
    if (r < 0.12) return 0;
    if (r < 0.15) return 30 + next() * 100;
    return next() ** 4 * 3;
  });
}

describe('batched histogram', () => {
  it("prints exactly what prom-client's Histogram prints for the same observations", async () => {
    for (const seed of [1, 7, 42, 2026]) {
      const next = random(seed);
      const ours = new Registry();
      const theirs = new Registry();
      const batched = createBatchedHistogram({
        name: 'h_seconds',
        help: 'A histogram.',
        labelName: 'app',
        buckets: BUCKETS,
        registry: ours,
      });
      const reference = new Histogram({
        name: 'h_seconds',
        help: 'A histogram.',
        labelNames: ['app'],
        buckets: BUCKETS,
        registers: [theirs],
      });
      expect(await ours.metrics()).toBe(await theirs.metrics()); // nothing observed yet
      const apps = ['shop', 'wiki', 'a"b\\c\nd'];
      const handles = apps.map((app) => batched.series(app));
      for (const value of durations(next, 2000)) {
        const i = Math.floor(next() * apps.length);
        handles[i]?.observe(value);
        reference.observe({ app: apps[i] as string }, value);
        if (next() < 0.002) expect(await ours.metrics()).toBe(await theirs.metrics());
      }
      expect(await ours.metrics()).toBe(await theirs.metrics());
      expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
      ours.resetMetrics();
      theirs.resetMetrics();
      expect(await ours.metrics()).toBe(await theirs.metrics());
      handles[0]?.observe(0.3);
      reference.observe({ app: 'shop' }, 0.3);
      expect(await ours.metrics()).toBe(await theirs.metrics());
    }
  });

  it('ignores a value that is not a finite number instead of throwing', async () => {
    const registry = new Registry();
    const h = createBatchedHistogram({ name: 'x', help: 'x', labelName: 'app', buckets: [1], registry });
    const s = h.series('a');
    s.observe(Number.NaN);
    s.observe(Number.POSITIVE_INFINITY);
    s.observe(2);
    expect(await registry.metrics()).toContain('x_count{app="a"} 1');
  });
});

describe('sidecar request metrics', () => {
  it("export what prom-client's own instruments exported for the same requests, across scrapes", async () => {
    const next = random(99);
    const sidecar = createSidecarMetrics();
    // The instruments as they were before the numbers were batched, fed the same way.
    const theirs = new Registry();
    const requests = new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests handled, by application, decision and status class.',
      labelNames: ['app', 'decision', 'status_class'],
      registers: [theirs],
    });
    const duration = new Histogram({
      name: 'gatehouse_request_duration_seconds',
      help: 'Time from request start to the last byte sent (or the connection closed).',
      labelNames: ['app'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const upstream = new Histogram({
      name: 'gatehouse_upstream_duration_seconds',
      help: 'Time from sending the request upstream until its response headers arrived.',
      labelNames: ['app'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const inFlight = new Gauge({
      name: 'gatehouse_requests_in_flight',
      help: 'Requests (and open WebSocket tunnels) currently being handled.',
      labelNames: ['app'],
      registers: [theirs],
    });
    const families = [
      'gatehouse_requests_total',
      'gatehouse_request_duration_seconds',
      'gatehouse_upstream_duration_seconds',
      'gatehouse_requests_in_flight',
    ];
    const scrape = async (registry: Registry) =>
      (await Promise.all(families.map((f) => registry.getSingleMetricAsString(f)))).join('\n\n');

    const apps = ['shop', 'wiki'];
    const decisions = ['allow', 'deny', 'bypass', 'none'];
    const statuses = [101, 200, 204, 302, 401, 403, 404, 499, 502, 503, 0, 600, 99];
    const open: string[] = [];
    for (let step = 0; step < 3000; step++) {
      if (open.length === 0 || next() < 0.55) {
        const app = apps[Math.floor(next() * apps.length)] as string;
        sidecar.requestStarted(app);
        inFlight.inc({ app });
        open.push(app);
      } else {
        const app = open.splice(Math.floor(next() * open.length), 1)[0] as string;
        const decision = decisions[Math.floor(next() * decisions.length)] as string;
        const status = statuses[Math.floor(next() * statuses.length)] as number;
        const d = next() ** 3 * 2;
        const u = next() < 0.3 ? null : d / 2;
        sidecar.requestFinished(app, decision, status, d, u);
        const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
        requests.inc({ app, decision, status_class: statusClass });
        duration.observe({ app }, d);
        if (u !== null) upstream.observe({ app }, u);
        inFlight.dec({ app });
      }
      if (next() < 0.003) expect(await scrape(sidecar.registry)).toBe(await scrape(theirs));
    }
    expect(await scrape(sidecar.registry)).toBe(await scrape(theirs));
  });
});
