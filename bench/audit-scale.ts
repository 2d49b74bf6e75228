// gatehouse audit at scale: every session of every user (no filter), and one user's sessions,
// over 1M, 5M and 20M lines; wall time, lines/s and peak RSS of the process (from /usr/bin/time),
// and jq doing only the user filter on the same files. Every session is also asked of all the
// files as one stream on standard input (`cat`), which is not in time order: the audit sorts it
// on temporary files first. The logs grow in time, not in density: the
// 1M-line corpus of the ground-truth test (a week of 24 sidecars) is repeated week after week with
// new ids, as a longer stretch of the same company's logs would be. Files are generated in a
// temporary directory (about 17 GiB at 20M lines) and deleted afterwards.
//
//   npm run build && node bench/audit-scale.ts [--sizes 1,5,20] [--jq-up-to 5]
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { generateCorpus } from '../test/helpers/audit-corpus.ts';
import { GATEHOUSE_BIN } from '../test/helpers/sidecar-process.ts';
import { timedCommand } from './process-measures.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,5,20' },
    'jq-up-to': { type: 'string', default: '5' },
  },
});
const WEEK_MS = 7 * 86_400_000;
const ISO = /"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"/g;
const IDS = /"(requestId|RayID|sessionId|GatehouseSessionID|jti)":"([^"]+)"/g;

/** One more week of the same logs: every time moved on by `weeks`, every id made new. */
function shifted(line: string, weeks: number): string {
  return line
    .replace(ISO, (_, t: string) => `"${new Date(Date.parse(t) + weeks * WEEK_MS).toISOString()}"`)
    .replace(IDS, (_, field: string, id: string) => `"${field}":"${id}-w${weeks}"`);
}

async function writeScaled(files: readonly string[], dir: string, weeks: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const file of files) {
    const target = join(dir, basename(file));
    const stream = createWriteStream(target);
    for (let w = 0; w < weeks; w++) {
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        if (!stream.write(`${w === 0 ? line : shifted(line, w)}\n`))
          await new Promise<void>((r) => stream.once('drain', () => r()));
      }
    }
    await new Promise<void>((r) => stream.end(r));
    out.push(target);
  }
  return out;
}

/** Runs a command under /usr/bin/time: wall seconds and peak RSS in MiB; a failure stops the benchmark. */
function measured(command: string, args: string[]): { seconds: number; rssMiB: number; stdout: string } {
  const result = timedCommand(command, args);
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.slice(-2000)}`);
  return result;
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-scale-'));
try {
  const base = generateCorpus({ dir: join(dir, 'w1'), lines: 1_000_000, users: 1100 });
  const user = base.users[Math.floor(base.users.length / 2)] as string;
  const rows: string[] = [];
  for (const size of values.sizes.split(',').map(Number)) {
    const files = size === 1 ? [...base.files] : await writeScaled(base.files, join(dir, `w${size}`), size);
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    const lines = base.lines * size;
    spawnSync('cat', files, { stdio: 'ignore' }); // warm the page cache
    const all = measured(process.execPath, [
      GATEHOUSE_BIN,
      'audit',
      'sessions',
      '--format',
      'jsonl',
      '-o',
      '/dev/null',
      ...files,
    ]);
    const shell = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
    const sorted = measured('/bin/sh', [
      '-c',
      `cat ${files.map(shell).join(' ')} | ${shell(process.execPath)} ${shell(GATEHOUSE_BIN)} audit sessions --format jsonl -o /dev/null -`,
    ]);
    const one = measured(process.execPath, [
      GATEHOUSE_BIN,
      'audit',
      'sessions',
      '--user',
      user,
      '--format',
      'json',
      ...files,
    ]);
    const sessions = (JSON.parse(one.stdout) as unknown[]).length;
    let jq = '';
    if (size <= Number(values['jq-up-to'])) {
      const j = measured('jq', ['-c', `select(.identity.email == "${user}")`, ...files]);
      jq = `${j.seconds.toFixed(1)} s (${(j.seconds / one.seconds).toFixed(1)}x the audit's time)`;
    }
    rows.push(
      `| ${size}M | ${(bytes / 2 ** 30).toFixed(1)} GiB | ${all.seconds.toFixed(1)} s, ${Math.round(lines / all.seconds).toLocaleString('en')} lines/s | ${all.rssMiB.toFixed(0)} MiB | ${sorted.seconds.toFixed(1)} s, ${Math.round(lines / sorted.seconds).toLocaleString('en')} lines/s | ${sorted.rssMiB.toFixed(0)} MiB | ${one.seconds.toFixed(1)} s, ${Math.round(lines / one.seconds).toLocaleString('en')} lines/s (${sessions} sessions) | ${one.rssMiB.toFixed(0)} MiB | ${jq || 'not run'} |`,
    );
    console.log(rows.at(-1));
    if (size !== 1) rmSync(join(dir, `w${size}`), { recursive: true, force: true });
  }
  console.log(
    '\n| Lines | Size | Every session (no filter, jsonl) | Peak RSS | Every session, one unordered stream (sorted) | Peak RSS | One user (--user, json) | Peak RSS | jq, user filter only |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
