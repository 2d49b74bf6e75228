import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createOperatorMetrics } from '../../operator/src/operator-metrics.ts';
import { createSidecarMetrics } from '../../sidecar/src/metrics/metrics.ts';
import { promtool } from '../helpers/promtool.ts';

// The observability pack of the chart: the alerts pass promtool's checks and unit tests, and
// every metric a dashboard panel or an alert uses is one the sidecar or the operator exports.

const ROOT = resolve(import.meta.dirname, '../..');
const ALERTS = 'charts/gatehouse/files/alerts.yaml';
const DASHBOARD = 'charts/gatehouse/files/dashboard.json';

interface Dashboard {
  panels: { id: number; title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query?: { query: string } | string }[] };
}

/** The metric names a PromQL expression uses (Gatehouse's own; up is Prometheus's). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(gatehouse_[a-z0-9_]+)/g)].map((m) => m[1] as string);
}

/** Every series name the code exports: histograms as their _bucket, _sum and _count series. */
async function exported(): Promise<Set<string>> {
  const sidecar = createSidecarMetrics();
  sidecar.configStreamConnected(true); // registered in cluster mode only
  sidecar.configWaiting({ reason: 'ApplicationNotFound', serving: false }); // so is this
  sidecar.watchSessionEnds(() => 0); // registered where session ends are carried on
  sidecar.watchApplicationPort(() => false); // registered once the application is seen listening
  const operator = createOperatorMetrics({
    queueDepth: () => 0,
    applicationsByReady: () => ({}),
    podsWithoutSidecar: () => new Map(),
    servicesPastSidecar: () => new Map(),
    appPortsOpen: () => new Map(),
  });
  const names = new Set<string>();
  for (const registry of [sidecar.registry, operator.registry])
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    }
  return names;
}

describe('alerts (charts/gatehouse/files/alerts.yaml)', () => {
  it('pass promtool check rules', async () => {
    const { code, output } = await promtool(['check', 'rules', ALERTS]);
    expect(output).toContain('SUCCESS: 18 rules found');
    expect(code).toBe(0);
  });

  it('pass their promtool unit tests (test/alerts/alerts.test.yaml)', async () => {
    const { code, output } = await promtool(['test', 'rules', 'test/alerts/alerts.test.yaml']);
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('a promtool unit test fails when an alert does not fire as expected', async () => {
    // The harness is not vacuous: the same tests against a copy whose 5xx threshold is 50% fail.
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(resolve(tmpdir(), 'gatehouse-alerts-'));
    writeFileSync(
      resolve(dir, 'alerts.yaml'),
      readFileSync(resolve(ROOT, ALERTS), 'utf8').replace(') > 0.05', ') > 0.5'),
    );
    const tests = readFileSync(resolve(ROOT, 'test/alerts/alerts.test.yaml'), 'utf8').replace(
      '../../charts/gatehouse/files/alerts.yaml',
      resolve(dir, 'alerts.yaml'),
    );
    writeFileSync(resolve(dir, 'alerts.test.yaml'), tests);
    const { code, output } = await promtool(['test', 'rules', resolve(dir, 'alerts.test.yaml')]);
    expect(code).not.toBe(0);
    expect(output).toContain('GatehouseHigh5xxRatio');
  });
});

describe('every metric the dashboard and the alerts use is exported', () => {
  it('dashboard panels and variables', async () => {
    const names = await exported();
    const dashboard = JSON.parse(readFileSync(resolve(ROOT, DASHBOARD), 'utf8')) as Dashboard;
    const used = [
      ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))),
      ...dashboard.templating.list.flatMap((v) =>
        metricNames(typeof v.query === 'string' ? v.query : (v.query?.query ?? '')),
      ),
    ];
    expect(used.length).toBeGreaterThan(20);
    expect([...new Set(used)].filter((n) => !names.has(n))).toEqual([]);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('alert expressions', async () => {
    const names = await exported();
    const rules = parse(readFileSync(resolve(ROOT, ALERTS), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const used = rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    expect(used.length).toBeGreaterThan(6);
    expect([...new Set(used)].filter((n) => !names.has(n))).toEqual([]);
  });

  it('the check itself catches a name the code does not export', async () => {
    const names = await exported();
    expect(names.has('gatehouse_requests_total')).toBe(true);
    expect(metricNames('rate(gatehouse_request_total[5m])').filter((n) => !names.has(n))).toEqual([
      'gatehouse_request_total',
    ]);
  });
});
