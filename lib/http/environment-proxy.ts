/**
 * The proxy the environment names, as curl, Go programs and kubectl read it: HTTPS_PROXY for https
 * URLs, HTTP_PROXY for http ones, NO_PROXY the hosts reached directly, each in either case (an
 * empty value is none). Null when neither proxy is set.
 */
export interface EnvironmentProxy {
  readonly https: string | undefined;
  readonly http: string | undefined;
  readonly noProxy: string | undefined;
}

const firstSet = (env: NodeJS.ProcessEnv, names: readonly string[]): string | undefined =>
  names.map((name) => env[name]).find((value) => value !== undefined && value !== '');

export function environmentProxy(env: NodeJS.ProcessEnv = process.env): EnvironmentProxy | null {
  const https = firstSet(env, ['HTTPS_PROXY', 'https_proxy']);
  const http = firstSet(env, ['HTTP_PROXY', 'http_proxy']);
  if (https === undefined && http === undefined) return null;
  return { https, http, noProxy: firstSet(env, ['NO_PROXY', 'no_proxy']) };
}
