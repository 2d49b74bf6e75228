import { execFileSync } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { KubeconfigError } from './kube-errors.ts';

/**
 * Client-go credential plugins (a kubeconfig user's `exec`), as kubectl runs them: EKS
 * (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`), AKS (`kubelogin`) and the like. The
 * plugin is run with KUBERNETES_EXEC_INFO, prints an ExecCredential, and its token or client
 * certificate is used until its `expirationTimestamp` (for the life of the process when it has
 * none). https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
 */

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
type ApiVersion = (typeof API_VERSIONS)[number];
const INTERACTIVE_MODES = ['Never', 'IfAvailable', 'Always'] as const;
type InteractiveMode = (typeof INTERACTIVE_MODES)[number];
/** A plugin that asks the user (a browser sign-in, an MFA code) may take a while; a hung one may not. */
const PLUGIN_TIMEOUT_MS = 5 * 60_000;
/** Run the plugin again this long before its credential expires. */
const EXPIRY_MARGIN_MS = 10_000;

export interface ExecPlugin {
  readonly apiVersion: ApiVersion;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly installHint: string | null;
  readonly provideClusterInfo: boolean;
  readonly interactiveMode: InteractiveMode;
}

/** What a plugin gave: a bearer token, or a client certificate and key (PEM). */
export interface ExecCredential {
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Epoch ms; undefined when the credential does not expire. */
  readonly expiresAt?: number;
}

/** The cluster, as the plugin may ask for it (`provideClusterInfo`). */
export interface PluginCluster {
  readonly server: string;
  readonly caData?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
}

const invalid = (where: string, message: string) =>
  new KubeconfigError('kubeconfig_invalid', `${where}: exec: ${message}`);

/** Reads a kubeconfig user's `exec` stanza; a command relative with a slash is taken from the kubeconfig's folder, as kubectl does. */
export function parseExecPlugin(raw: unknown, where: string, kubeconfigDir: string): ExecPlugin {
  if (!raw || typeof raw !== 'object') throw invalid(where, 'must be an object');
  const exec = raw as Record<string, unknown>;
  const apiVersion = exec.apiVersion;
  if (apiVersion === 'client.authentication.k8s.io/v1alpha1')
    throw new KubeconfigError(
      'credential_plugin_unsupported',
      `${where}: exec apiVersion client.authentication.k8s.io/v1alpha1 was removed in Kubernetes 1.24; update the plugin and use client.authentication.k8s.io/v1`,
    );
  if (!API_VERSIONS.includes(apiVersion as ApiVersion))
    throw invalid(
      where,
      `apiVersion must be one of ${API_VERSIONS.join(', ')} (got ${JSON.stringify(apiVersion)})`,
    );
  if (typeof exec.command !== 'string' || exec.command === '') throw invalid(where, 'command is required');
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw invalid(where, 'args must be a list of strings');
  const env: Record<string, string> = {};
  for (const entry of (exec.env ?? []) as unknown[]) {
    const e = entry as { name?: unknown; value?: unknown } | null;
    if (!e || typeof e.name !== 'string' || typeof e.value !== 'string')
      throw invalid(where, 'env must be a list of {name, value} strings');
    env[e.name] = e.value;
  }
  // v1 requires interactiveMode; v1beta1 defaults to IfAvailable.
  const mode =
    exec.interactiveMode ??
    (apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
  if (!INTERACTIVE_MODES.includes(mode as InteractiveMode))
    throw invalid(
      where,
      `interactiveMode must be one of ${INTERACTIVE_MODES.join(', ')}${mode === undefined ? ' (required with client.authentication.k8s.io/v1)' : ` (got ${JSON.stringify(mode)})`}`,
    );
  const command =
    exec.command.includes('/') && !isAbsolute(exec.command)
      ? resolve(kubeconfigDir, exec.command)
      : exec.command;
  return {
    apiVersion: apiVersion as ApiVersion,
    command,
    args: args as string[],
    env,
    installHint: typeof exec.installHint === 'string' ? exec.installHint.trim() : null,
    provideClusterInfo: exec.provideClusterInfo === true,
    interactiveMode: mode as InteractiveMode,
  };
}

/** The first non-empty line of a plugin's error output, capped, for a one-line message. */
function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, 300);
}

/** Runs the plugin once: the credential it prints, or a KubeconfigError saying why not. */
export function runExecPlugin(plugin: ExecPlugin, cluster: PluginCluster, where: string): ExecCredential {
  const terminal = process.stdin.isTTY === true;
  if (plugin.interactiveMode === 'Always' && !terminal)
    throw new KubeconfigError(
      'credential_plugin_failed',
      `${where}: the credential plugin ${plugin.command} needs a terminal (interactiveMode: Always), and standard input is not one`,
    );
  const interactive = terminal && plugin.interactiveMode !== 'Never';
  const info = {
    apiVersion: plugin.apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive,
      ...(plugin.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.caData ? { 'certificate-authority-data': cluster.caData.toString('base64') } : {}),
              'insecure-skip-tls-verify': cluster.insecureSkipTlsVerify,
            },
          }
        : {}),
    },
  };
  let stdout: string;
  try {
    stdout = execFileSync(plugin.command, plugin.args as string[], {
      env: { ...process.env, ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      // An interactive plugin talks to the user on the terminal; otherwise its errors are kept for the message.
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', interactive ? 'inherit' : 'pipe'],
      encoding: 'utf8',
      timeout: PLUGIN_TIMEOUT_MS,
      maxBuffer: 1024 * 1024,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { status?: number | null; stderr?: string; signal?: string };
    if (e.code === 'ENOENT')
      throw new KubeconfigError(
        'credential_plugin_not_found',
        `${where}: the credential plugin ${plugin.command} is not installed or not on PATH${plugin.installHint ? `: ${firstLine(plugin.installHint)}` : ''}`,
      );
    const why =
      e.code === 'ETIMEDOUT' || e.signal === 'SIGTERM'
        ? `did not answer within ${PLUGIN_TIMEOUT_MS / 60_000} minutes`
        : `failed (exit ${e.status ?? e.signal ?? e.code})${e.stderr ? `: ${firstLine(String(e.stderr))}` : ''}`;
    throw new KubeconfigError(
      'credential_plugin_failed',
      `${where}: the credential plugin ${plugin.command} ${why}`,
    );
  }
  return parseExecCredential(stdout, plugin, where);
}

/** Reads a plugin's output: an ExecCredential of the plugin's apiVersion with a token or a certificate and key. */
export function parseExecCredential(stdout: string, plugin: ExecPlugin, where: string): ExecCredential {
  const bad = (why: string) =>
    new KubeconfigError(
      'credential_plugin_failed',
      `${where}: the credential plugin ${plugin.command} ${why}`,
    );
  let output: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  try {
    output = JSON.parse(stdout) as typeof output;
  } catch {
    throw bad('did not print an ExecCredential (its output is not JSON)');
  }
  if (output?.kind !== 'ExecCredential' || output.apiVersion !== plugin.apiVersion)
    throw bad(
      `printed ${String(output?.kind)} ${String(output?.apiVersion)}, not an ExecCredential of ${plugin.apiVersion}`,
    );
  const status = output.status ?? {};
  const token = typeof status.token === 'string' && status.token !== '' ? status.token : undefined;
  const cert = typeof status.clientCertificateData === 'string' ? status.clientCertificateData : undefined;
  const key = typeof status.clientKeyData === 'string' ? status.clientKeyData : undefined;
  if (!token && !(cert && key)) throw bad('gave neither a token nor a client certificate and key');
  let expiresAt: number | undefined;
  if (status.expirationTimestamp !== undefined) {
    expiresAt = Date.parse(String(status.expirationTimestamp));
    if (Number.isNaN(expiresAt))
      throw bad(`gave an expirationTimestamp that is not a time: ${String(status.expirationTimestamp)}`);
  }
  return {
    ...(token ? { token } : { cert: cert as string, key: key as string }),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/** The plugin's current credential: cached until shortly before it expires, then the plugin runs again. */
export function execCredentials(
  plugin: ExecPlugin,
  cluster: PluginCluster,
  where: string,
): () => ExecCredential {
  let cached: ExecCredential | undefined;
  return () => {
    if (!cached || (cached.expiresAt !== undefined && cached.expiresAt - EXPIRY_MARGIN_MS <= Date.now()))
      cached = runExecPlugin(plugin, cluster, where);
    return cached;
  };
}
