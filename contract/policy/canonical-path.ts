import type { GatehouseErrorCode } from '../errors.ts';

/** The request target after the one safe normalisation: this path is matched and this path is forwarded. */
export interface CanonicalTarget {
  readonly path: string;
  /** Query string without the `?`, exactly as received ("" when absent). */
  readonly query: string;
}

export type TargetResult = CanonicalTarget | { readonly error: GatehouseErrorCode; readonly detail: string };

// Paths made only of these characters, with no `//` and no dot segment, are already canonical.
const SIMPLE_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

const HEX = /^[0-9A-Fa-f]{2}$/;
/** `/` `\` `;` `?` `#`: encoded, each is read as a delimiter by some server after decoding. */
const ENCODED_DELIMITERS: ReadonlySet<number> = new Set([0x2f, 0x5c, 0x3b, 0x3f, 0x23]);
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export interface CanonicalOptions {
  /**
   * The application reads paths as Windows does (`spec.upstream.caseInsensitivePaths`): a path it
   * would read as another (windowsSpelling) is ambiguous too.
   */
  readonly windowsPaths?: boolean;
}

/**
 * Canonicalises an origin-form request target. Rejected: anything that is not origin-form,
 * invalid percent-encoding, encoded delimiters (`/` `\` `;` `?` `#`), encoded NUL or control characters, raw `\` and `;` (path
 * parameters, which servers such as Tomcat strip before routing: `/public/..;/admin`), double
 * percent-encoding (`%252e`, which an upstream that decodes twice reads as `.`), and `..` above
 * the root, and with `windowsPaths` a path Windows reads as another (windowsSpelling). Normalised:
 * percent-encoded unreserved characters decoded, other escapes upper-cased, repeated slashes
 * merged, dot segments resolved.
 */
export function canonicalizeTarget(target: string, options: CanonicalOptions = {}): TargetResult {
  const result = canonicalForm(target);
  if (!options.windowsPaths || 'error' in result) return result;
  const spelling = windowsSpelling(result.path);
  return spelling === undefined ? result : { error: 'ambiguous_path', detail: spelling };
}

function canonicalForm(target: string): TargetResult {
  if (target.length === 0 || target.charCodeAt(0) !== 0x2f /* / */) {
    return { error: 'bad_request_target', detail: 'request target must be origin-form (start with /)' };
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  if (target.includes('#'))
    return { error: 'bad_request_target', detail: 'request target contains a fragment' };
  if (SIMPLE_CHARS.test(rawPath) && !rawPath.includes('//') && !DOT_SEGMENT.test(rawPath))
    return { path: rawPath, query };
  const decoded = decodeSafe(rawPath);
  if (typeof decoded !== 'string') return decoded;
  return resolveSegments(decoded, query);
}

function decodeSafe(rawPath: string): string | { error: GatehouseErrorCode; detail: string } {
  let out = '';
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i] as string;
    const code = rawPath.charCodeAt(i);
    if (c === '\\') return { error: 'ambiguous_path', detail: 'backslash in path' };
    if (c === ';') return { error: 'ambiguous_path', detail: 'semicolon in path (path parameters)' };
    if (code < 0x21 || code > 0x7e)
      return { error: 'bad_request_target', detail: 'control or non-ASCII character in path' };
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return { error: 'bad_percent_encoding', detail: 'invalid percent-encoding in path' };
    const value = Number.parseInt(hex, 16);
    if (value === 0x25 && HEX.test(rawPath.slice(i + 3, i + 5)))
      return { error: 'ambiguous_path', detail: 'double percent-encoding in path' };
    if (ENCODED_DELIMITERS.has(value))
      return { error: 'ambiguous_path', detail: 'encoded delimiter (/ \\ ; ? #) in path' };
    if (value < 0x20 || value === 0x7f)
      return { error: 'ambiguous_path', detail: 'encoded control character in path' };
    const ch = String.fromCharCode(value);
    out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

function resolveSegments(path: string, query: string): TargetResult {
  const input = path.split('/');
  const output: string[] = [];
  let trailingSlash = path.endsWith('/');
  for (let i = 1; i < input.length; i++) {
    const segment = input[i] as string;
    const last = i === input.length - 1;
    if (segment === '' || segment === '.') {
      if (last) trailingSlash = true;
      continue;
    }
    if (segment === '..') {
      if (output.length === 0) return { error: 'path_escapes_root', detail: 'dot segments above the root' };
      output.pop();
      if (last) trailingSlash = true;
      continue;
    }
    output.push(segment);
  }
  const joined = `/${output.join('/')}`;
  return { path: trailingSlash && output.length > 0 ? `${joined}/` : joined, query };
}

/**
 * A segment Windows reads as another name: one ending in a dot or a space (Win32 strips them, so
 * `/admin./users` and `/admin%20/users` are `/admin/users`), one with a colon (an NTFS stream:
 * `/admin::$INDEX_ALLOCATION/users` is the folder `admin`), one with a tilde before a digit (an
 * 8.3 short name: `/ADMINI~1/users` can be `/administration/users`). The path is canonical
 * (dot segments resolved, unreserved characters decoded, other escapes in upper case: a space is
 * `%20`, an encoded colon `%3A`, which the application decodes).
 */
const WINDOWS_SPELLING = /(?:\.|%20)(?:\/|$)|:|%3A|~[0-9]/;

/**
 * Why Windows would read this canonical path as another one, for an application whose paths
 * compare without regard to case (IIS, ASP.NET, Windows file servers: where such paths are as a
 * rule); undefined when it would not. Its policies would judge one path and the application serve
 * another, so the request is refused as ambiguous. ASP.NET refuses a colon in a path by default too.
 */
export function windowsSpelling(path: string): string | undefined {
  const found = WINDOWS_SPELLING.exec(path)?.[0];
  if (found === undefined) return undefined;
  if (found === ':' || found === '%3A') return 'colon in path (Windows reads what follows as a file stream)';
  if (found.startsWith('~')) return 'tilde and digit in path (a Windows short name)';
  return 'path segment ending in a dot or a space (Windows strips them)';
}
