/**
 * The long run of the adversarial harness (test/harness/): mutated requests over raw sockets and
 * every hostile-client scenario against the built sidecar with its default limits, while
 * identified requests keep coming. Prints the report as JSON; exits 1 when an invariant broke.
 *
 *   npm run build && node bench/adversary.ts [--cases 1000000] [--seed 1] [--concurrency 128]
 */
import './bench-tmpdir.ts';
import { parseArgs } from 'node:util';
import { runAdversary } from '../test/harness/adversary.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '128' },
    'idle-connections': { type: 'string', default: '10000' },
    websockets: { type: 'string', default: '1000' },
    tricklers: { type: 'string', default: '200' },
  },
});
const started = Date.now();
const report = await runAdversary({
  seed: Number(values.seed),
  cases: Number(values.cases),
  concurrency: Number(values.concurrency),
  scenarios: [
    'rst-phases',
    'abandon-queued',
    'slowloris',
    'slow-body',
    'half-close',
    'pipelined-upgrades',
    'idle-keepalive',
    'websockets',
  ],
  idleConnections: Number(values['idle-connections']),
  websockets: Number(values.websockets),
  tricklers: Number(values.tricklers),
  legitPerSecond: 20,
  shutdownGraceMs: 25_000,
  onProgress: (done) => {
    if (done % 50_000 === 0)
      process.stderr.write(`${done} cases, ${Math.round(done / ((Date.now() - started) / 1000))}/s\n`);
  },
});
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
const clean =
  report.exited === null &&
  report.violations.length === 0 &&
  report.scenarios.every((s) => s.problems.length === 0) &&
  report.legit.failed === 0 &&
  report.lines.unparseable +
    report.lines.duplicated +
    report.lines.missingForUpstream +
    report.lines.missingForClients ===
    0;
process.exit(clean ? 0 : 1);
