import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds dist/ (the bundle that ships) once per test run, so process tests run the command exactly as it ships; prepares the cluster tools. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'scripts/build.ts')], { cwd: root, stdio: 'inherit' });
  // The real kube-apiserver, etcd, helm and promtool the tests use: instant when cached, built
  // once from Go modules otherwise (minutes; the build prints to stderr).
  for (const script of ['scripts/control-plane.sh', 'scripts/helm.sh', 'scripts/promtool.sh'])
    execFileSync('bash', [resolve(root, script)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
