import type { Dispatcher } from 'undici';
import { environmentProxy } from '../../../lib/http/environment-proxy.ts';
import { undiciPackage } from '../../../lib/http/undici-package.ts';

/** The egress proxy the sidecar's calls to identity providers and Microsoft Graph go through. */
export interface EgressProxy {
  /** The proxies named, without credentials (`http://proxy.corp:3128`), for the start line. */
  readonly proxies: readonly string[];
  /** The hosts reached directly (NO_PROXY), as given; null when none is. */
  readonly noProxy: string | null;
  /** A fetch through the proxy, its answer a Response of this runtime as callers expect. */
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** A proxy URL as it may be logged: its origin, never its user or password. */
function withoutCredentials(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

/** Statuses whose Response carries no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The egress proxy of the environment (HTTPS_PROXY for https URLs, HTTP_PROXY for http ones, in
 * either case; NO_PROXY the hosts reached directly), or null when none is set. Only the calls to
 * identity providers and Microsoft Graph take it: the application and the operator are reached in
 * the cluster, never through it. undici's fetch and proxy agent are loaded with the first call
 * (a sidecar without a proxy never loads them: they are most of the package).
 */
export function egressProxyOf(env: NodeJS.ProcessEnv = process.env): EgressProxy | null {
  const named = environmentProxy(env);
  if (named === null) return null;
  const { https, http } = named;
  const noProxy = named.noProxy ?? null;
  let client: Promise<{ fetch: typeof import('undici').fetch; agent: Dispatcher }> | undefined;
  const proxied = () => {
    client ??= undiciPackage().then(({ EnvHttpProxyAgent, fetch }) => ({
      fetch,
      agent: new EnvHttpProxyAgent({
        ...(https !== undefined ? { httpsProxy: https } : {}),
        ...(http !== undefined ? { httpProxy: http } : {}),
        ...(noProxy !== null ? { noProxy } : {}),
      }),
    }));
    return client;
  };
  return {
    proxies: [...new Set([https, http].filter((p) => p !== undefined).map(withoutCredentials))],
    noProxy,
    async fetch(url, init) {
      const { fetch, agent } = await proxied();
      const answer = await fetch(url, { ...(init as object), dispatcher: agent });
      // openid-client and jose take this runtime's Response: the same status, headers and stream.
      return new Response(NULL_BODY.has(answer.status) ? null : (answer.body as ReadableStream | null), {
        status: answer.status,
        statusText: answer.statusText,
        headers: answer.headers as unknown as Headers,
      });
    },
  };
}
