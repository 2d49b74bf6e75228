import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A stand-in client-go credential plugin (as `aws eks get-token` or `gke-gcloud-auth-plugin`
 * are): a script that records each run (its KUBERNETES_EXEC_INFO) and prints an ExecCredential
 * with the given token, or fails as the given message.
 */
export interface StandInPlugin {
  /** The kubeconfig user's `exec` stanza that runs it. */
  readonly exec: Record<string, unknown>;
  /** Each run's KUBERNETES_EXEC_INFO, parsed. */
  runs(): { spec: { interactive: boolean; cluster?: { server: string } } }[];
}

export function writeExecPlugin(
  dir: string,
  name: string,
  options: { token?: string; expiresInSeconds?: number; fail?: string; extra?: Record<string, unknown> },
): StandInPlugin {
  const script = join(dir, name);
  const log = join(dir, `${name}.runs`);
  const status = {
    token: options.token,
    ...(options.expiresInSeconds !== undefined ? { expiresInSeconds: options.expiresInSeconds } : {}),
  };
  writeFileSync(
    script,
    `#!${process.execPath}
const { appendFileSync } = require('node:fs');
appendFileSync(${JSON.stringify(log)}, process.env.KUBERNETES_EXEC_INFO + '\\n');
const fail = ${JSON.stringify(options.fail ?? null)};
if (fail) { process.stderr.write(fail + '\\n'); process.exit(1); }
const s = ${JSON.stringify(status)};
const status = { token: s.token };
if (s.expiresInSeconds !== undefined) status.expirationTimestamp = new Date(Date.now() + s.expiresInSeconds * 1000).toISOString();
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }));
`,
  );
  chmodSync(script, 0o755);
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: script,
      args: [],
      interactiveMode: 'Never',
      provideClusterInfo: true,
      ...options.extra,
    },
    runs: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [],
  };
}

/** A kubeconfig whose one user is the given `user` stanza. */
export function kubeconfigWithUser(
  path: string,
  cluster: { server: string; caFile: string },
  user: Record<string, unknown>,
  namespace?: string,
  /** More fields of the cluster entry (e.g. `proxy-url`). */
  clusterFields: Record<string, unknown> = {},
): string {
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: { server: cluster.server, 'certificate-authority': cluster.caFile, ...clusterFields },
        },
      ],
      users: [{ name: 'sso-user', user }],
      contexts: [
        { name: 'test', context: { cluster: 'test', user: 'sso-user', ...(namespace ? { namespace } : {}) } },
      ],
      'current-context': 'test',
    }),
  );
  return path;
}
