// prom-client's own modules, imported by path in lib/metrics/prom-core.ts; their types are the package's.
declare module 'prom-client/lib/registry.js' {
  import type { Registry } from 'prom-client';

  const implementation: typeof Registry;
  export default implementation;
}
declare module 'prom-client/lib/counter.js' {
  import type { Counter } from 'prom-client';

  const implementation: typeof Counter;
  export default implementation;
}
declare module 'prom-client/lib/gauge.js' {
  import type { Gauge } from 'prom-client';

  const implementation: typeof Gauge;
  export default implementation;
}
declare module 'prom-client/lib/histogram.js' {
  import type { Histogram } from 'prom-client';

  const implementation: typeof Histogram;
  export default implementation;
}
declare module 'prom-client/lib/defaultMetrics.js' {
  import type { collectDefaultMetrics } from 'prom-client';

  const implementation: typeof collectDefaultMetrics;
  export default implementation;
}
// One default metric each: (registry, config) registers it.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';

  const register: (registry: Registry, config: { prefix?: string }) => void;
  export default register;
}
