/** Attributes of a cookie Gatehouse sets; always HttpOnly, SameSite=Lax and host-only (no Domain). */
export interface CookieOptions {
  readonly secure: boolean;
  readonly path?: string;
  /** Seconds; 0 deletes the cookie; undefined makes a browser-session cookie. */
  readonly maxAge?: number;
}

/**
 * Cookie names as sent: when Secure, `__Host-` prefixed for path `/` (browsers bind it to this
 * host), else `__Secure-` (that prefix allows a Path; browsers refuse it without Secure).
 */
export function cookieName(base: string, secure: boolean, path = '/'): string {
  if (!secure) return base;
  return path === '/' ? `__Host-${base}` : `__Secure-${base}`;
}

/**
 * The name of a browser's sign-in binding: `__Host-<base>_b`, which only this host can set, so a
 * sign-in can be tied to the browser that started it (https only: the prefix needs Secure).
 */
export function bindingCookieName(base: string): string {
  return `__Host-${base}_b`;
}

/** A Set-Cookie value. Values are base64url/JWE text chosen by Gatehouse, so they need no quoting. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  let out = `${name}=${value}; Path=${options.path ?? '/'}; HttpOnly; SameSite=Lax`;
  if (options.secure) out += '; Secure';
  if (options.maxAge !== undefined) out += `; Max-Age=${Math.max(0, Math.floor(options.maxAge))}`;
  return out;
}

/** Reads the cookies whose names start with `prefix` from the Cookie header(s); the first copy of a name wins. */
export function readCookies(
  header: string | readonly string[] | undefined,
  prefix: string,
): Map<string, string> {
  const found = new Map<string, string>();
  if (header === undefined) return found;
  for (const line of typeof header === 'string' ? [header] : header) {
    if (!line.includes(prefix)) continue;
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim();
      if (name.startsWith(prefix) && !found.has(name)) found.set(name, part.slice(eq + 1).trim());
    }
  }
  return found;
}

/** Case-insensitive patterns of cookie base names (a config has one or two). */
const basePatterns = new Map<string, RegExp>();

/**
 * True when `header` contains `base` in any case, without lower-casing the whole header (a
 * session cookie makes it about 600 bytes). Header values reach the sidecar as latin1 text, where
 * this is the same test as `header.toLowerCase().includes(base.toLowerCase())` for an ASCII base.
 */
function mentionedIn(header: string, base: string): boolean {
  let pattern = basePatterns.get(base);
  if (pattern === undefined) {
    if (basePatterns.size >= 16) basePatterns.clear();
    pattern = new RegExp(base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    basePatterns.set(base, pattern);
  }
  return pattern.test(header);
}

/**
 * True when a cookie name is one of Gatehouse's: it starts with the base name (`lowerBase`, lower
 * case), with or without `__Host-` or `__Secure-`, compared case-insensitively.
 */
function isGatehouseCookieName(name: string, lowerBase: string): boolean {
  const lower = name.toLowerCase();
  const bare = lower.startsWith('__host-')
    ? lower.slice(7)
    : lower.startsWith('__secure-')
      ? lower.slice(9)
      : lower;
  return bare.startsWith(lowerBase);
}

/**
 * The Cookie header without Gatehouse's cookies (names starting with the base name, with or
 * without `__Host-`, compared case-insensitively); null when nothing is left.
 */
export function withoutGatehouseCookies(header: string, base: string): string | null {
  if (!mentionedIn(header, base)) return header;
  const lowerBase = base.toLowerCase();
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (isGatehouseCookieName((eq === -1 ? part : part.slice(0, eq)).trim(), lowerBase)) continue;
    const trimmed = part.trim();
    if (trimmed !== '') kept.push(trimmed);
  }
  return kept.length === 0 ? null : kept.join('; ');
}

/**
 * The name a browser sends a Set-Cookie's cookie back under: the text before its first `=`; for
 * a cookie without a name (`=a=b`, or no `=` at all), the browser sends its value alone, so the
 * name is read from the value the same way.
 */
function sentName(setCookie: string): string {
  const semicolon = setCookie.indexOf(';');
  let pair = (semicolon === -1 ? setCookie : setCookie.slice(0, semicolon)).trim();
  if (pair.charCodeAt(0) === 0x3d /* = */) pair = pair.slice(1);
  const eq = pair.indexOf('=');
  return (eq === -1 ? pair : pair.slice(0, eq)).trim();
}

/**
 * The application's Set-Cookie values without those that would set one of Gatehouse's cookies
 * (its session, a sign-in in progress): the session belongs to the gateway, and an application
 * that reflects a cookie from its request would otherwise let anyone put their own session into
 * another user's browser. Returns the values kept and how many were dropped.
 */
export function withoutGatehouseSetCookies(
  values: readonly string[],
  base: string,
): { kept: string[]; dropped: number } {
  const kept: string[] = [];
  let dropped = 0;
  for (const value of values) {
    if (mentionedIn(value, base) && isGatehouseCookieName(sentName(value), base.toLowerCase())) dropped++;
    else kept.push(value);
  }
  return { kept, dropped };
}
