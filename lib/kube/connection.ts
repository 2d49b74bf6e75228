import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { parse } from 'yaml';
import { fileErrorText } from '../file-error-text.ts';
import { environmentProxy } from '../http/environment-proxy.ts';
import { Agent } from '../http/undici-core.ts';
import { EnvHttpProxyAgent, ProxyAgent } from '../http/undici-proxy.ts';
import { type ExecCredential, execCredentials, parseExecPlugin } from './exec-credential.ts';
import { KubeconfigError } from './kube-errors.ts';

export const IN_CLUSTER_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const IN_CLUSTER_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const TOKEN_REREAD_MS = 60_000;

/** How to reach the API server: its URL, a TLS-configured dispatcher and the current bearer token. */
export interface KubeConnection {
  readonly server: string;
  /** The current connection pool (through a proxy when the kubeconfig or the environment names one). */
  readonly dispatcher: Dispatcher;
  /**
   * Drops every pooled connection and starts a fresh pool: after a stalled watch, a half-open
   * TCP connection would otherwise keep swallowing requests until they time out.
   */
  reset(): void;
  /** Who to act as (kubeconfig `as` / `as-groups`): requests are authorized as this user. */
  readonly impersonate?: { readonly user: string; readonly groups: readonly string[] };
  /** The bearer token to send now (re-read from its file, since projected tokens rotate); undefined for client certificates. */
  token(): string | undefined;
}

/** Options of loadConnection; with none, in-cluster config is used when present, else $KUBECONFIG or ~/.kube/config. */
export interface ConnectionOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
}

/** A connection with explicit values; tests and in-cluster config use it. */
export function createConnection(options: {
  server: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  tokenFile?: string;
  insecureSkipTlsVerify?: boolean;
  impersonate?: { user: string; groups?: readonly string[] };
  /** A credential plugin's current token or client certificate (kubeconfig `exec`). */
  credentials?: () => ExecCredential;
  /**
   * How to reach the server: the kubeconfig's `proxy-url` (http or https), or the proxy of
   * the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as kubectl reads them); directly without.
   */
  proxy?: { readonly url: string } | 'environment';
}): KubeConnection {
  // The client certificate the pool was made with: a plugin's new one needs a new pool.
  let agentCert: string | Buffer | undefined;
  const newAgent = (): Dispatcher => {
    const fromPlugin = options.credentials?.();
    const cert = fromPlugin?.cert ?? options.cert;
    const key = fromPlugin?.key ?? options.key;
    agentCert = cert;
    const tls = {
      ...(options.ca ? { ca: options.ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      rejectUnauthorized: options.insecureSkipTlsVerify !== true,
    };
    const pool = { keepAliveTimeout: 30_000, connections: 32 };
    const proxy = options.proxy;
    if (proxy === undefined) return new Agent({ connect: tls, ...pool });
    // Through a proxy the server's TLS is the tunnel's (requestTls); without one (NO_PROXY), the connection's.
    if (proxy === 'environment') return new EnvHttpProxyAgent({ connect: tls, requestTls: tls, ...pool });
    return new ProxyAgent({ uri: proxy.url, requestTls: tls, ...pool });
  };
  let dispatcher = newAgent();
  let cached: { value: string; at: number } | undefined;
  const reset = (): void => {
    const old = dispatcher;
    dispatcher = newAgent();
    void old.destroy().catch(() => undefined);
  };
  const token = (): string | undefined => {
    if (options.credentials) {
      const current = options.credentials();
      if (current.cert !== undefined && current.cert !== agentCert) reset();
      return current.token;
    }
    if (options.token) return options.token;
    if (!options.tokenFile) return undefined;
    const now = Date.now();
    if (!cached || now - cached.at > TOKEN_REREAD_MS) {
      cached = { value: readFileSync(options.tokenFile, 'utf8').trim(), at: now };
    }
    return cached.value;
  };
  return {
    server: options.server.replace(/\/+$/, ''),
    get dispatcher() {
      return dispatcher;
    },
    reset,
    token,
    ...(options.impersonate
      ? { impersonate: { user: options.impersonate.user, groups: options.impersonate.groups ?? [] } }
      : {}),
  };
}

/** Loads the connection the way kubectl does: in-cluster, or a kubeconfig context with a token, a client certificate or a credential plugin. */
export function loadConnection(options: ConnectionOptions = {}): KubeConnection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!options.kubeconfig && host && port) {
    const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return createConnection({
      server,
      ca: readFileSync(IN_CLUSTER_CA_FILE),
      tokenFile: IN_CLUSTER_TOKEN_FILE,
    });
  }
  return connectionFromKubeconfig(kubeconfigPath(options), options);
}

interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: { name: string; cluster: Record<string, string | boolean> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/** The namespace commands default to, as kubectl picks it: the context's, in-cluster the pod's, else default. */
export function defaultNamespace(options: ConnectionOptions = {}): string {
  if (!options.kubeconfig && process.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_NAMESPACE_FILE))
    return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim();
  const path = kubeconfigPath(options);
  if (!existsSync(path)) return 'default';
  const config = readKubeconfig(path, options);
  const name = options.context ?? config['current-context'];
  return config.contexts?.find((c) => c.name === name)?.context.namespace ?? 'default';
}

function kubeconfigPath(options: ConnectionOptions): string {
  return (
    options.kubeconfig ??
    process.env.KUBECONFIG?.split(':')[0] ??
    resolve(process.env.HOME ?? '/', '.kube/config')
  );
}

/**
 * The kubeconfig at `path`, or a KubeconfigError that says where the path came from and what to
 * do: a missing file (no cluster set up on this machine), one that cannot be read, one that is
 * not YAML or not a mapping.
 */
function readKubeconfig(path: string, options: ConnectionOptions): Kubeconfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    const from = options.kubeconfig
      ? '--kubeconfig'
      : process.env.KUBECONFIG
        ? 'KUBECONFIG'
        : "kubectl's default";
    throw new KubeconfigError(
      'kubeconfig_invalid',
      code === 'ENOENT'
        ? `no kubeconfig at ${path} (${from}): give --kubeconfig <file> or set KUBECONFIG as for kubectl (inside a pod, its ServiceAccount is used)`
        : `${path} (${from}): cannot be read (${fileErrorText(error)})`,
    );
  }
  let config: unknown;
  try {
    config = parse(text);
  } catch (error) {
    throw new KubeconfigError(
      'kubeconfig_invalid',
      `${path}: is not YAML (${(error as Error).message.split('\n')[0]})`,
    );
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw new KubeconfigError(
      'kubeconfig_invalid',
      `${path}: is not a kubeconfig (a YAML mapping of clusters, contexts and users)`,
    );
  return config as Kubeconfig;
}

function connectionFromKubeconfig(path: string, options: ConnectionOptions): KubeConnection {
  const contextName = options.context;
  const config = readKubeconfig(path, options);
  const base = dirname(path);
  const name = contextName ?? config['current-context'];
  const context = config.contexts?.find((c) => c.name === name)?.context;
  if (!context)
    throw new KubeconfigError(
      'kubeconfig_invalid',
      name
        ? `${path}: no context ${JSON.stringify(name)} (contexts: ${(config.contexts ?? []).map((c) => c.name).join(', ') || 'none'})`
        : `${path}: no current-context; pick one with --context`,
    );
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  if (!cluster || typeof cluster.server !== 'string')
    throw new KubeconfigError('kubeconfig_invalid', `${path}: cluster ${context.cluster} has no server`);
  const where = `${path}: user ${context.user}`;
  if (user['auth-provider']) {
    const provider = (user['auth-provider'] as { name?: string }).name ?? 'unknown';
    throw new KubeconfigError(
      'credential_plugin_unsupported',
      `${where} uses the ${provider} auth-provider, removed from kubectl in Kubernetes 1.26; use its exec credential plugin (gke-gcloud-auth-plugin, kubelogin) as kubectl now does`,
    );
  }
  const material = (data: unknown, file: unknown): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof file !== 'string') return undefined;
    const at = resolve(base, file);
    try {
      return readFileSync(at);
    } catch (error) {
      throw new KubeconfigError(
        'kubeconfig_invalid',
        `${path}: context ${name}: ${at} cannot be read (${fileErrorText(error)})`,
      );
    }
  };
  const proxyUrl = cluster['proxy-url'];
  if (
    proxyUrl !== undefined &&
    (typeof proxyUrl !== 'string' || !/^https?:\/\/[^/?#\s]+\/?$/i.test(proxyUrl))
  )
    throw new KubeconfigError(
      'kubeconfig_invalid',
      /^socks5h?:/i.test(String(proxyUrl))
        ? `${path}: cluster ${context.cluster}: proxy-url ${String(proxyUrl)}: a SOCKS proxy is not supported; use an http or https proxy, or a tunnel to the API server (ssh -L) as its server`
        : `${path}: cluster ${context.cluster}: proxy-url must be an http or https URL (got ${JSON.stringify(proxyUrl)})`,
    );
  const ca = material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = material(user['client-certificate-data'], user['client-certificate']);
  const key = material(user['client-key-data'], user['client-key']);
  const insecureSkipTlsVerify = cluster['insecure-skip-tls-verify'] === true;
  const credentials =
    user.exec === undefined
      ? undefined
      : execCredentials(
          parseExecPlugin(user.exec, where, base),
          { server: cluster.server, ...(ca ? { caData: ca } : {}), insecureSkipTlsVerify },
          where,
        );
  return createConnection({
    server: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(typeof user.token === 'string' ? { token: user.token } : {}),
    ...(typeof user.tokenFile === 'string' ? { tokenFile: resolve(base, user.tokenFile) } : {}),
    insecureSkipTlsVerify,
    ...(credentials ? { credentials } : {}),
    ...(typeof proxyUrl === 'string'
      ? { proxy: { url: proxyUrl } }
      : environmentProxy() !== null
        ? { proxy: 'environment' as const }
        : {}),
    ...(typeof user.as === 'string'
      ? {
          impersonate: {
            user: user.as,
            groups: Array.isArray(user['as-groups']) ? user['as-groups'].map(String) : [],
          },
        }
      : {}),
  });
}
