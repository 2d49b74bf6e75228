/**
 * The targets of the routes the sidecar answers whatever the Host, before a target is read as the
 * application's (readiness-route.ts, keys-route.ts): one path under the root's reserved prefix,
 * with or without a query, compared as sent.
 */

/** Whether a raw request target is `path` (which begins with `/.`), with or without a query. */
export function isRootRouteTarget(url: string | undefined, path: string): url is string {
  // Most requests leave at the first test: their path does not begin with "/.".
  if (url === undefined || url.charCodeAt(1) !== 0x2e /* . */) return false;
  return url === path || url.startsWith(`${path}?`);
}

/** The query of a target that isRootRouteTarget of `path`; `` without one. */
export function rootRouteQuery(url: string, path: string): string {
  return url.length > path.length ? url.slice(path.length + 1) : '';
}
