/** Attributes of a cookie Gatehouse sets; always HttpOnly, SameSite=Lax and host-only (no Domain). */
export interface CookieOptions {
  readonly secure: boolean;
  readonly path?: string;
  /** Seconds; 0 deletes the cookie; undefined makes a browser-session cookie. */
  readonly maxAge?: number;
}

/** Cookie names as sent: `__Host-` prefixed when Secure, which browsers bind to this host and path `/`. */
export function cookieName(base: string, secure: boolean, path = '/'): string {
  return secure && path === '/' ? `__Host-${base}` : base;
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
 * The Cookie header without Gatehouse's cookies (names starting with the base name, with or
 * without `__Host-`, compared case-insensitively); null when nothing is left.
 */
export function withoutGatehouseCookies(header: string, base: string): string | null {
  if (!mentionedIn(header, base)) return header;
  const lowerBase = base.toLowerCase();
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const bare = name.startsWith('__host-')
      ? name.slice(7)
      : name.startsWith('__secure-')
        ? name.slice(9)
        : name;
    if (bare.startsWith(lowerBase)) continue;
    const trimmed = part.trim();
    if (trimmed !== '') kept.push(trimmed);
  }
  return kept.length === 0 ? null : kept.join('; ');
}
