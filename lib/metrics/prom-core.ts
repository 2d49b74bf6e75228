/**
 * The part of prom-client Gatehouse uses: the registry, counters, gauges, histograms and the
 * default process metrics, from the package's own modules. Its entry also evaluates the
 * Pushgateway, which loads node:https (with node:tls under it) and node:zlib, and the cluster
 * aggregator: about 5 MiB of every sidecar's idle memory for code that never runs. These are
 * the same classes the package exports (it declares no export map), so types come from the
 * package.
 */
import type {
  Counter as CounterClass,
  collectDefaultMetrics as collectDefaultMetricsFn,
  Gauge as GaugeClass,
  Histogram as HistogramClass,
  Registry as RegistryClass,
} from 'prom-client';
import CounterImplementation from 'prom-client/lib/counter.js';
import collectDefaultMetricsImplementation from 'prom-client/lib/defaultMetrics.js';
import GaugeImplementation from 'prom-client/lib/gauge.js';
import HistogramImplementation from 'prom-client/lib/histogram.js';
import RegistryImplementation from 'prom-client/lib/registry.js';

export const Registry: typeof RegistryClass = RegistryImplementation;
export type Registry = RegistryClass;
export const Counter: typeof CounterClass = CounterImplementation;
export type Counter<T extends string = string> = CounterClass<T>;
export const Gauge: typeof GaugeClass = GaugeImplementation;
export type Gauge<T extends string = string> = GaugeClass<T>;
export const Histogram: typeof HistogramClass = HistogramImplementation;
export type Histogram<T extends string = string> = HistogramClass<T>;
export const collectDefaultMetrics: typeof collectDefaultMetricsFn = collectDefaultMetricsImplementation;
