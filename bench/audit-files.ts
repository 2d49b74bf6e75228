// gatehouse audit over many files: the 1M-line corpus of the ground-truth test (24 sidecars' logs)
// given as its 24 files, and with each file cut into consecutive parts as log rotation leaves
// them (--splits 4,100: 96 and 2,400 files). Every session of every user (`--format jsonl`) and
// one user's sessions, each once under /usr/bin/time: wall time and peak RSS, with the open files
// limit of the shell running it (`ulimit -n`). `--against <dist>` runs another build's dist/ too
// (e.g. an earlier commit's), one after the other on the same files.
//
//   npm run build && node bench/audit-files.ts [--splits 4,100] [--against <dist>]
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { generateCorpus } from '../test/helpers/audit-corpus.ts';
import { timedCommand } from './process-measures.ts';
import { BUILT_DIST } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    splits: { type: 'string', default: '4,100' },
    against: { type: 'string' },
  },
});
const builds = [BUILT_DIST, ...(values.against === undefined ? [] : [resolve(values.against)])];
for (const dist of builds)
  if (!existsSync(join(dist, 'bin/gatehouse.js'))) {
    console.error(`bench: ${dist} holds no built gatehouse (bin/gatehouse.js)`);
    process.exit(2);
  }

/** Each file cut into `parts` files of consecutive lines (about the same number each). */
async function split(
  files: readonly string[],
  parts: number,
  dir: string,
  linesPerFile: number,
): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const per = Math.ceil(linesPerFile / parts);
  for (const file of files) {
    let n = 0;
    let stream: ReturnType<typeof createWriteStream> | undefined;
    for await (const line of createInterface({
      input: createReadStream(file),
      crlfDelay: Number.POSITIVE_INFINITY,
    })) {
      if (n % per === 0) {
        stream?.end();
        const path = join(dir, `${basename(file)}.${String(n / per).padStart(4, '0')}`);
        stream = createWriteStream(path);
        out.push(path);
      }
      n++;
      if (!stream?.write(`${line}\n`)) await new Promise<void>((r) => stream?.once('drain', () => r()));
    }
    await new Promise<void>((r) => (stream ? stream.end(r) : r()));
  }
  return out;
}

/** One command under /usr/bin/time: wall seconds, peak RSS in MiB, and how it ended. */
function measured(args: string[]): string {
  const { seconds, rssMiB, status, stderr } = timedCommand(process.execPath, args);
  const failed =
    status === 0 ? '' : ` (exit ${status}: ${/EMFILE|heap out of memory/.exec(stderr)?.[0] ?? 'failed'})`;
  return `${seconds.toFixed(1)} s, ${rssMiB.toFixed(0)} MiB${failed}`;
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-files-'));
try {
  const corpus = generateCorpus({ dir: join(dir, 'w'), lines: 1_000_000, users: 1100 });
  const user = corpus.users[Math.floor(corpus.users.length / 2)] as string;
  const limit = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  const rows: string[] = [];
  const oneUser = ['audit', 'sessions', '--user', user, '--format', 'json', '-o', '/dev/null'];
  for (const parts of [1, ...values.splits.split(',').map(Number)]) {
    const files =
      parts === 1
        ? [...corpus.files]
        : await split(corpus.files, parts, join(dir, `s${parts}`), corpus.lines / corpus.files.length);
    spawnSync('cat', files, { stdio: 'ignore' }); // warm the page cache
    for (const dist of builds) {
      const bin = join(dist, 'bin/gatehouse.js');
      const all = measured([bin, 'audit', 'sessions', '--format', 'jsonl', '-o', '/dev/null', ...files]);
      const one = measured([bin, ...oneUser, ...files]);
      rows.push(
        `| ${files.length.toLocaleString('en')} | ${dist === BUILT_DIST ? 'this build' : dist} | ${all} | ${one} |`,
      );
      console.log(rows.at(-1));
    }
    if (parts !== 1) rmSync(join(dir, `s${parts}`), { recursive: true, force: true });
  }
  console.log(
    `\n${corpus.lines.toLocaleString('en')} lines; open files limit ${limit}; node ${process.version}`,
  );
  console.log('| Files | Build | Every session (jsonl): time, peak RSS | One user (json): time, peak RSS |');
  console.log('|---:|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
