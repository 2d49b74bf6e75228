/** Longest return path kept across a sign-in. */
export const MAX_RETURN_PATH = 2048;

// Anything a browser might strip, fold or read as a separator: controls, space, backslash, non-ASCII.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these characters are what is refused
const UNSAFE = /[\u0000-\u0020\u007f-\uffff\\]/;

/**
 * The same-origin path (and query) to send a user to after sign-in or sign-out, or `/` when the
 * candidate is anything else. Only an origin-form path is accepted: one leading `/`, no `//` or
 * `/\` start, no scheme, no controls, whitespace, backslashes or non-ASCII in any position. The
 * result is always used after the external origin (an absolute Location), never on its own.
 */
export function safeReturnPath(candidate: string | null | undefined, origin: string): string {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > MAX_RETURN_PATH)
    return '/';
  if (candidate[0] !== '/' || candidate[1] === '/' || UNSAFE.test(candidate)) return '/';
  let url: URL;
  try {
    url = new URL(candidate, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin || !url.pathname.startsWith('/') || url.pathname.startsWith('//')) return '/';
  return url.pathname + url.search;
}
