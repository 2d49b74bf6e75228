// What sign-outs cost a standalone replica whose shared revocations directory holds thousands of
// revocations: the built sidecar as shipped (pinned to core 0 in the injected container's memory
// limit) serving an application that signs people in, with N session-end revocation files of it
// in `--revocations-dir`; then, from this process on core 1, E more written one every `--every`
// ms, as the replicas' sign-outs write them. Reported: the sidecar's CPU over the burst (from
// /proc) per end and per reload (its `config_loaded` lines), and the reloads. `--against <dist>`
// runs another build the same way, alternating.
//
//   npm run build && taskset -c 1 node bench/revocations-dir-churn.ts [--revocations 7900] [--ends 50] [--every 100] [--rounds 2] [--against <dist>]
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRevocationFile } from '../contract/revocation-files.ts';
import { sessionEndRevocationName, sessionEndRevocationSpec } from '../contract/session-ends.ts';
import {
  children,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  stopChild,
  waitFor200,
} from './process-measures.ts';
import { BUILT_DIST, spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    revocations: { type: 'string', default: '7900' },
    ends: { type: 'string', default: '50' },
    every: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    against: { type: 'string' },
  },
});
const REVOCATIONS = Number(values.revocations);
const ENDS = Number(values.ends);
const EVERY_MS = Number(values.every);
const ROUNDS = Number(values.rounds);
const BUILDS = [BUILT_DIST, ...(values.against ? [values.against] : [])];
const APPLICATION = 'default/bench';

/** One sign-out's revocation file, as a replica writes it. */
function writeEnd(dir: string): void {
  const end = {
    session: randomBytes(16).toString('base64url'),
    before: Math.floor(Date.now() / 1000) - 60,
    reason: 'signed out',
  };
  writeRevocationFile(
    dir,
    sessionEndRevocationSpec(end, APPLICATION),
    new Date(Date.now() + 12 * 3_600_000),
    {
      name: sessionEndRevocationName(end, APPLICATION),
    },
  );
}

const countLoads = (log: string): number =>
  readFileSync(log, 'utf8').split('"type":"config_loaded"').length - 1;

async function round(dist: string): Promise<{ msPerEnd: number; msPerReload: number; reloads: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-revocations-churn-'));
  // An application that signs people in (its provider is never called here).
  const { dir: config } = await writeSignedInApp('http://127.0.0.1:9', 'http://127.0.0.1:4180');
  const revocations = join(dir, 'revocations');
  mkdirSync(revocations);
  for (let i = 0; i < REVOCATIONS; i++) writeEnd(revocations);
  const log = join(dir, 'sidecar.log');
  const out = openSync(log, 'w');
  const port = await freePort();
  const sidecar = spawnBuiltSidecar(config, port, {
    dist,
    configFlags: ['--config', config, '--revocations-dir', revocations],
    pin: { core: 0, memory: injectedMemoryGroup() },
    stdout: out,
  });
  children.add(sidecar);
  await waitFor200(`http://127.0.0.1:${port}/.gatehouse/ready`);
  await new Promise((r) => setTimeout(r, 2_000));
  const pid = sidecar.pid as number;
  const loadsBefore = countLoads(log);
  const before = cpuTicks(pid);
  for (let i = 0; i < ENDS; i++) {
    writeEnd(revocations);
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
  await new Promise((r) => setTimeout(r, 3_000)); // the last reload
  const ms = ((cpuTicks(pid) - before) / HZ) * 1000;
  const reloads = countLoads(log) - loadsBefore;
  await stopChild(sidecar);
  closeSync(out);
  rmSync(dir, { recursive: true, force: true });
  rmSync(config, { recursive: true, force: true });
  return { msPerEnd: ms / ENDS, msPerReload: ms / Math.max(1, reloads), reloads };
}

try {
  const results = new Map<string, { msPerEnd: number; msPerReload: number; reloads: number }[]>(
    BUILDS.map((b) => [b, []]),
  );
  for (let r = 0; r < ROUNDS; r++)
    for (const dist of r % 2 === 0 ? BUILDS : [...BUILDS].reverse())
      results.get(dist)?.push(await round(dist));
  process.stdout.write(
    `\nnode ${process.version}; ${REVOCATIONS} revocations of the application in the directory, ${ENDS} more one every ${EVERY_MS} ms; ${ROUNDS} rounds\n\n`,
  );
  process.stdout.write(
    '| build | sidecar CPU per end, ms | per reload, ms | reloads |\n|---|---:|---:|---:|\n',
  );
  for (const [dist, runs] of results)
    for (const run of runs)
      process.stdout.write(
        `| ${dist} | ${run.msPerEnd.toFixed(1)} | ${run.msPerReload.toFixed(1)} | ${run.reloads} |\n`,
      );
} finally {
  for (const child of children) child.kill('SIGKILL');
}
process.exit(0);
