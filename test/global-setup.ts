import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { createRunDirectory, removeStaleRunDirectories } from './helpers/run-tmpdir.ts';

/**
 * Builds dist/ (the bundle that ships) once per test run, so process tests run the command exactly
 * as it ships; prepares the cluster tools; gives the run one temporary directory.
 */
export default function setup(): () => void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'scripts/build.ts')], { cwd: root, stdio: 'inherit' });
  // The real kube-apiserver, etcd, helm and promtool the tests use: instant when cached, built
  // once from Go modules otherwise (minutes; the build prints to stderr).
  for (const script of ['scripts/control-plane.sh', 'scripts/helm.sh', 'scripts/promtool.sh'])
    execFileSync('bash', [resolve(root, script)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  // TMPDIR for every worker and every process a test starts (config directories, certificates,
  // logs, the audit's own temporary files), removed when the run ends: without it each run left
  // over a hundred directories and some 170 MB in the system's temporary directory.
  const system = tmpdir();
  removeStaleRunDirectories(system);
  const run = createRunDirectory(system);
  process.env.TMPDIR = run.path;
  return run.remove;
}
