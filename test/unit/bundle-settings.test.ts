import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { SHIPPED_BUNDLE } from '../../scripts/bundle-settings.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-settings-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Marks, in the bundle under test only, when the OpenTelemetry API's entry is evaluated.
const markOtelEvaluation: Plugin = {
  name: 'mark-otel-evaluation',
  setup(b) {
    b.onLoad({ filter: /@opentelemetry[\\/]api[\\/]dist[\\/]index\.cjs$/ }, (args) => ({
      contents: `${readFileSync(args.path, 'utf8')}\nglobalThis.otelEvaluated = true;\n`,
      loader: 'js',
    }));
  },
};

/** Bundles `source` (an ES module resolved from the project) with the shipped settings, runs it, answers stdout. */
async function runBundled(name: string, source: string): Promise<string> {
  const out = join(work, `${name}.mjs`);
  await build({
    ...SHIPPED_BUNDLE,
    plugins: [markOtelEvaluation, ...SHIPPED_BUNDLE.plugins],
    absWorkingDir: ROOT,
    stdin: { contents: source, resolveDir: ROOT, sourcefile: `${name}.mjs`, loader: 'js' },
    outfile: out,
    logLevel: 'silent',
  });
  const run = spawnSync(process.execPath, [out], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout;
}

describe('the shipped bundle settings', () => {
  it("the sidecar's process metrics do not evaluate the OpenTelemetry API; exemplars load it on first use", async () => {
    const stdout = await runBundled(
      'otel',
      `import { collectDefaultMetrics, Registry } from '${join(ROOT, 'lib/metrics/prom-core.ts')}';
import { registerProcessMetrics } from '${join(ROOT, 'lib/metrics/process-metrics.ts')}';
import { eventLoopDelayGauges } from '${join(ROOT, 'lib/metrics/event-loop-delay.ts')}';
const plain = new Registry();
registerProcessMetrics(plain, 'plain_');
eventLoopDelayGauges({ registry: plain, prefix: 'plain_', resolutionMs: 100, quietMs: 1000 }).busy();
const text = await plain.metrics();
console.log(JSON.stringify({ cpu: /plain_process_cpu_seconds_total \\d/.test(text), evaluated: globalThis.otelEvaluated === true }));
const withExemplars = new Registry();
withExemplars.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
collectDefaultMetrics({ register: withExemplars, prefix: 'ex_', enableExemplars: true });
const open = await withExemplars.metrics();
console.log(JSON.stringify({ cpu: /ex_process_cpu_seconds_total \\d/.test(open), evaluated: globalThis.otelEvaluated === true }));
`,
    );
    const [plain, exemplars] = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(plain).toEqual({ cpu: true, evaluated: false });
    expect(exemplars).toEqual({ cpu: true, evaluated: true });
  });
});
