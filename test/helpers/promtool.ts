import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
let binary: string | undefined;

/** The promtool binary: PROMTOOL_BIN when set, else built once from its Go module by scripts/promtool.sh. */
export function promtoolBinary(): string {
  binary ??= execFileSync('bash', [resolve(ROOT, 'scripts/promtool.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return binary;
}

/** Runs promtool from the repository root: its exit code and output. */
export function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(promtoolBinary(), args, { cwd: ROOT, encoding: 'utf8' }, (error, stdout, stderr) =>
      done({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}
