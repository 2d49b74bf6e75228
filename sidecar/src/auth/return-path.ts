import { type GatewayPaths, ROOT_PATHS } from './gateway-paths.ts';

/** Longest return path kept across a sign-in. */
export const MAX_RETURN_PATH = 2048;

// Anything a browser might strip, fold or read as a separator: controls, space, backslash, non-ASCII.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these characters are what is refused
const UNSAFE = /[\u0000-\u0020\u007f-\uffff\\]/;

/**
 * The same-origin path (and query) of the application to send a user to after sign-in or
 * sign-out, or its home (`/`, or `<base>/` under a base path) when the candidate is anything
 * else: another application's path on a shared host is anything else too. Only an origin-form
 * path is accepted: one leading `/`, no `//` or `/\` start, no scheme, no controls, whitespace,
 * backslashes or non-ASCII in any position. The result is always used after the external origin
 * (an absolute Location), never on its own.
 */
export function safeReturnPath(
  candidate: string | null | undefined,
  origin: string,
  paths: GatewayPaths = ROOT_PATHS,
): string {
  const home = paths.home;
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > MAX_RETURN_PATH)
    return home;
  if (candidate[0] !== '/' || candidate[1] === '/' || UNSAFE.test(candidate)) return home;
  let url: URL;
  try {
    url = new URL(candidate, origin);
  } catch {
    return home;
  }
  if (url.origin !== origin || !url.pathname.startsWith('/') || url.pathname.startsWith('//')) return home;
  if (!paths.holds(url.pathname)) return home;
  return url.pathname + url.search;
}
