import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const MEASURES = resolve(import.meta.dirname, '../../bench/process-measures.ts');

/** Starts a process that loads the benchmarks' shared module, makes a file in its TMPDIR and prints it. */
function benchmarkProcess(then: string) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(MEASURES)});
       const { mkdtempSync, writeFileSync } = await import('node:fs');
       const { tmpdir } = await import('node:os');
       const dir = mkdtempSync(tmpdir() + '/gatehouse-config-');
       writeFileSync(dir + '/app.yaml', 'x');
       console.log(process.env.TMPDIR);
       ${then}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const printed = new Promise<string>((resolvePrinted) => {
    child.stdout.on('data', () => {
      if (out.includes('\n')) resolvePrinted(out.trim());
    });
  });
  const ended = new Promise<number | null>((resolveEnded) => child.on('close', (code) => resolveEnded(code)));
  return { child, printed, ended };
}

describe("a benchmark's temporary files", () => {
  it('go into one directory of its own, removed when it ends', async () => {
    const run = benchmarkProcess('');
    const dir = await run.printed;
    expect(dir).toMatch(/gatehouse-bench-/);
    expect(await run.ended).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('are removed when it is stopped (SIGINT from the terminal, SIGTERM from a supervisor)', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const run = benchmarkProcess('setInterval(() => {}, 1000);');
      const dir = await run.printed;
      expect(existsSync(dir)).toBe(true);
      run.child.kill(signal);
      expect(await run.ended).toBe(130);
      expect(existsSync(dir), signal).toBe(false);
    }
  });
});

/** Programs other benchmarks start (a proxy, an application, a load generator): their TMPDIR is their parent's. */
const STARTED_BY_BENCHMARKS = new Set(['bare-node-proxy.ts', 'closed-loop.ts', 'upstream-server.ts']);

describe('every benchmark program', () => {
  it('keeps its temporary files in a directory of its own (imports bench-tmpdir.ts, itself or through process-measures.ts)', () => {
    const dir = resolve(import.meta.dirname, '../../bench');
    const programs = readdirSync(dir).filter((name) => {
      if (!name.endsWith('.ts') || STARTED_BY_BENCHMARKS.has(name)) return false;
      return !/^export /m.test(readFileSync(join(dir, name), 'utf8')); // a module of the others
    });
    expect(programs.length).toBeGreaterThan(20);
    const without = programs.filter(
      (name) =>
        !/^import '\.\/bench-tmpdir\.ts';$|from '\.\/process-measures\.ts';$/m.test(
          readFileSync(join(dir, name), 'utf8'),
        ),
    );
    expect(without).toEqual([]);
  });
});
