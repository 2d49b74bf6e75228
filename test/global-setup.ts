import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds dist/ once per test run, so process tests run the entry point exactly as it ships. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
