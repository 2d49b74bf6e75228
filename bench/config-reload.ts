// What a config change costs a sidecar's event loop: every AccessRevocation makes the operator
// render the application again and send the whole config, which the sidecar checks and compiles
// while no request runs. For an application of 2 policies and one of 2 + N team policies
// (bench/signed-in-app.ts, rendered as the operator renders it), the time from a received config
// line to the new runtime state (JSON.parse, parseSidecarConfig, compileRuntimeState), for a line
// that adds a revocation (policies unchanged) and for one that changes a policy. `--keep off` parses
// each line without the config in force, as sidecars did before they kept unchanged policies.
//
//   node bench/config-reload.ts [--policies 998] [--changes 200] [--keep on,off]
import './bench-tmpdir.ts';
import { parseArgs } from 'node:util';
import type { Revocation, SidecarConfig } from '../contract/config/sidecar-config.ts';
import { parseSidecarConfig } from '../contract/config/sidecar-config.ts';
import { streamLine } from '../contract/config-stream.ts';
import { readSnapshot } from '../sidecar/src/config/config-files.ts';
import { configFromSnapshot } from '../sidecar/src/config/load-application.ts';
import { compileRuntimeState, type RuntimeState } from '../sidecar/src/runtime-state.ts';
import { DEFAULT_CLIENT_LIMITS } from '../sidecar/src/server.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    policies: { type: 'string', default: '998' },
    changes: { type: 'string', default: '200' },
    keep: { type: 'string', default: 'on,off' },
  },
});
const EXTRA = Number(values.policies);
const CHANGES = Number(values.changes);
const KEEPS = values.keep.split(',');
for (const keep of KEEPS)
  if (keep !== 'on' && keep !== 'off') {
    console.error(`bench: --keep: ${keep}; give on, off or on,off`);
    process.exit(2);
  }

const revocation = (i: number): Revocation => ({
  name: `revocation-${i}`,
  user: `user-${i}@example.com`,
  subject: null,
  provider: null,
  before: 1_790_000_000 + i,
  reason: 'bench',
});

/** Config lines as the operator sends them: each adds one revocation, or (`policy`) also renames a group. */
function lines(base: SidecarConfig, kind: 'revocation' | 'policy'): string[] {
  return Array.from({ length: CHANGES }, (_, i) => {
    const revocations = Array.from({ length: i + 1 }, (_, k) => revocation(k));
    const policies =
      kind === 'revocation'
        ? base.policies
        : base.policies.map((p, k) =>
            k === base.policies.length - 1 ? { ...p, name: `${p.name}-${i}` } : p,
          );
    return streamLine({ type: 'config', config: { ...base, policies, revocations } });
  });
}

/** Milliseconds from each line to its runtime state, with the config in force given to the parser (keep) or not. */
function reload(base: SidecarConfig, changeLines: string[], keep: boolean): number[] {
  let current = parseSidecarConfig(JSON.parse(streamLine({ type: 'config', config: base })).config);
  let state: RuntimeState = compileRuntimeState(current, DEFAULT_CLIENT_LIMITS);
  const times: number[] = [];
  for (const line of changeLines) {
    const started = performance.now();
    const config = parseSidecarConfig(JSON.parse(line).config, keep ? current : undefined);
    state = compileRuntimeState(config, DEFAULT_CLIENT_LIMITS, state);
    times.push(performance.now() - started);
    current = config;
  }
  void state.upstream.pool.close();
  return times;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] as number;
};

const rows: string[] = [];
for (const extra of [...new Set([0, EXTRA])]) {
  const { dir } = await writeSignedInApp('http://127.0.0.1:9', 'http://127.0.0.1:8', 'bench', extra);
  const base = configFromSnapshot(readSnapshot(dir));
  for (const kind of ['revocation', 'policy'] as const) {
    const changeLines = lines(base, kind);
    for (const keep of KEEPS) {
      reload(base, changeLines.slice(0, 20), keep === 'on'); // warm-up
      const times = reload(base, changeLines, keep === 'on');
      rows.push(
        `| ${2 + extra} | ${kind === 'revocation' ? 'a revocation' : 'a revocation and a policy'} | ${keep} | ${percentile(times, 50).toFixed(2)} | ${percentile(times, 90).toFixed(2)} | ${Math.max(...times).toFixed(2)} |`,
      );
    }
  }
}
console.log(`node ${process.version}; ${CHANGES} config lines each, one after the other, in one process\n`);
console.log('| policies | the line adds | keep unchanged policies | p50 ms | p90 ms | slowest ms |');
console.log('|---:|---|---|---:|---:|---:|');
for (const row of rows) console.log(row);
process.exit(0);
