// gatehouse audit benchmark: one user's sessions out of a large log file, against jq doing only
// the user filter on the same file. Both are run as processes, wall clock, the file warm in the
// page cache; the median of several runs is printed.
//
//   npm run build && node bench/audit.ts [--lines 1000000] [--users 1100] [--runs 5]
//
// The corpus is the one the ground-truth test uses (test/helpers/audit-corpus.ts): 8
// applications on 24 sidecars, both field profiles, concatenated into one file here.
import './bench-tmpdir.ts';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCorpus } from '../test/helpers/audit-corpus.ts';
import { GATEHOUSE_BIN } from '../test/helpers/sidecar-process.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1100' },
    runs: { type: 'string', default: '5' },
  },
});
const runs = Number(values.runs);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-bench-'));
try {
  const corpus = generateCorpus({
    dir: join(dir, 'sidecars'),
    lines: Number(values.lines),
    users: Number(values.users),
  });
  const file = join(dir, 'all.log');
  writeFileSync(file, '');
  for (const f of corpus.files) appendFileSync(file, readFileSync(f));
  const lines = corpus.lines;
  const mib = statSync(file).size / 1048576;
  const user = corpus.users[Math.floor(corpus.users.length / 2)] as string;
  const userSessions = corpus.truth.filter((t) => t.email === user);
  console.log(
    `corpus: ${lines} lines, ${mib.toFixed(0)} MiB, ${corpus.truth.length} sessions of ${corpus.users.length} users; ` +
      `${user} has ${userSessions.length} sessions, ${userSessions.reduce((n, s) => n + s.requestIds.length, 0)} requests`,
  );
  execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache

  const time = (command: string, args: string[]): { ms: number; out: string } => {
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
    return { ms, out: result.stdout };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

  const auditArgs = [GATEHOUSE_BIN, 'audit', 'sessions', '--user', user, '--format', 'json', file];
  const jqFilter = `select(.identity.email == "${user}")`;
  const audit: number[] = [];
  const jq: number[] = [];
  let auditOut = '';
  let jqOut = '';
  for (let i = 0; i < runs; i++) {
    const a = time(process.execPath, auditArgs);
    audit.push(a.ms);
    auditOut = a.out;
    const j = time('jq', ['-c', jqFilter, file]);
    jq.push(j.ms);
    jqOut = j.out;
  }
  const sessions = JSON.parse(auditOut) as { requests: unknown[] }[];
  const jqLines = jqOut.split('\n').filter(Boolean).length;
  const a = median(audit);
  const j = median(jq);
  console.log(
    `gatehouse audit sessions --user (whole sessions, JSON): median ${(a / 1000).toFixed(2)} s = ${Math.round(lines / (a / 1000)).toLocaleString('en')} lines/s, ${(mib / (a / 1000)).toFixed(0)} MiB/s (${sessions.length} sessions, ${sessions.reduce((n, s) => n + s.requests.length, 0)} requests)`,
  );
  console.log(
    `jq -c '${jqFilter}': median ${(j / 1000).toFixed(2)} s = ${Math.round(lines / (j / 1000)).toLocaleString('en')} lines/s (${jqLines} native-profile lines; it does not rebuild anything)`,
  );
  console.log(
    `audit is ${(j / a).toFixed(1)}x faster than jq (runs: audit ${audit.map((x) => x.toFixed(0)).join(', ')} ms; jq ${jq.map((x) => x.toFixed(0)).join(', ')} ms)`,
  );

  const all = time(process.execPath, [
    GATEHOUSE_BIN,
    'audit',
    'sessions',
    '--format',
    'json',
    '-o',
    join(dir, 'all.json'),
    ...corpus.files, // one file per sidecar: every-session answers need each file in time order
  ]);
  console.log(
    `every session of every user (full parse): ${(all.ms / 1000).toFixed(2)} s = ${Math.round(lines / (all.ms / 1000)).toLocaleString('en')} lines/s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
