import { type Histogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from './prom-core.ts';

/**
 * The event loop's delay, as prom-client's default `nodejs_eventloop_lag_*` gauges report it (the
 * same names and meaning), sampled only while the process has work.
 *
 * The delay is measured by a timer due every `resolutionMs`: a stall shows as how late it fired.
 * prom-client keeps that timer running for the life of the process, so a sidecar with nothing to
 * do woke for it ten times a second (at 100 ms), two thirds of its CPU at rest (docs/benchmarks.md,
 * "CPU at rest"). Here it runs from the first piece of work after a quiet time until `quietMs` to
 * twice that have passed without another: a stall while the sidecar serves, or while it applies a
 * config, shows as before; a sidecar at rest has nothing to be late for, and its summaries read 0.
 */
export interface EventLoopDelayOptions {
  readonly registry: Registry;
  /** Prefix of the metric names (as prom-client's `prefix`). */
  readonly prefix: string;
  /** How often the delay is sampled while there is work. */
  readonly resolutionMs: number;
  /** Sampling stops once this long (up to twice this) has passed without work. */
  readonly quietMs: number;
}

export interface EventLoopDelay {
  /** Work starts (a request, a config): sample the delay until a quiet time without more. */
  busy(): void;
  /** Whether the delay is being sampled now. */
  readonly sampling: boolean;
}

const SUMMARIES = [
  ['min', 'The minimum recorded event loop delay.', (h: Histogram) => h.min],
  ['max', 'The maximum recorded event loop delay.', (h: Histogram) => h.max],
  ['mean', 'The mean of the recorded event loop delays.', (h: Histogram) => h.mean],
  ['stddev', 'The standard deviation of the recorded event loop delays.', (h: Histogram) => h.stddev],
  ['p50', 'The 50th percentile of the recorded event loop delays.', (h: Histogram) => h.percentile(50)],
  ['p90', 'The 90th percentile of the recorded event loop delays.', (h: Histogram) => h.percentile(90)],
  ['p99', 'The 99th percentile of the recorded event loop delays.', (h: Histogram) => h.percentile(99)],
] as const;

export function eventLoopDelayGauges(options: EventLoopDelayOptions): EventLoopDelay {
  const { registry, prefix, resolutionMs, quietMs } = options;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  // Registered first: a scrape reads metrics in the order they were registered, and this one's
  // collect sets the others.
  new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    // This one's collect sets all of them: the summaries of the samples since the last scrape
    // (0 when none were taken: no work), and the lag of a turn of the loop now.
    collect() {
      const sampled = histogram.count > 0;
      for (const [gauge, read] of summaries) gauge.set(sampled ? read(histogram) / 1e9 : 0);
      histogram.reset();
      const start = performance.now();
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          this.set((performance.now() - start) / 1000);
          resolve();
        }),
      );
    },
  });

  const summaries = SUMMARIES.map(
    ([name, help, read]) =>
      [
        new Gauge({ name: `${prefix}nodejs_eventloop_lag_${name}_seconds`, help, registers: [registry] }),
        read,
      ] as const,
  );
  let sampling = false;
  let workSinceCheck = false;
  const start = (): void => {
    sampling = true;
    histogram.enable();
    const check = setInterval(() => {
      if (workSinceCheck) {
        workSinceCheck = false;
        return;
      }
      histogram.disable();
      sampling = false;
      clearInterval(check);
    }, quietMs);
    check.unref();
  };
  return {
    busy() {
      workSinceCheck = true;
      if (!sampling) start();
    },
    get sampling() {
      return sampling;
    },
  };
}
