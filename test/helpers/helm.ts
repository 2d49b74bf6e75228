import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const CHART = resolve(ROOT, 'charts/gatehouse');

let binary: string | undefined;

/** The helm binary: HELM_BIN when set, else built once from its Go module by scripts/helm.sh. */
export function helmBinary(): string {
  binary ??= execFileSync('bash', [resolve(ROOT, 'scripts/helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return binary;
}

/** Runs helm (from the repository root); rejects with its output on a non-zero exit. */
export function helm(args: string[], kubeconfig?: string): Promise<string> {
  return new Promise((resolveOut, reject) => {
    execFile(
      helmBinary(),
      args,
      {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
          HELM_CACHE_HOME: resolve(ROOT, 'node_modules/.cache/helm'),
          HELM_CONFIG_HOME: resolve(ROOT, 'node_modules/.cache/helm-config'),
          HELM_DATA_HOME: resolve(ROOT, 'node_modules/.cache/helm-data'),
        },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`helm ${args.join(' ')}: ${stderr || stdout}`)) : resolveOut(stdout),
    );
  });
}
