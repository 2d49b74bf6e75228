// A benchmark's temporary directory: TMPDIR for it and every process it starts (config
// directories, compile caches, logs, the audit's temporary files), removed when it exits, also
// when it is stopped (SIGINT from the terminal, SIGTERM from a supervisor: the default action
// would skip the removal). Each run of a benchmark left its directories in the system's
// temporary directory. Every benchmark program imports this first (directly or through
// process-measures.ts); test/unit/bench-tmpdir.test.ts checks that they all do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BENCH_TMPDIR = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
process.env.TMPDIR = BENCH_TMPDIR;
process.on('exit', () => rmSync(BENCH_TMPDIR, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
