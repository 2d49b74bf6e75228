import type { RenderedPolicy } from '../../../contract/config/rendered-policy.ts';
import type { PolicyInput } from './input.ts';

/** How an application's policies compare paths (`spec.upstream.caseInsensitivePaths`). */
export interface PathCase {
  /** The application finds its pages without regard to case: paths selectors compare the same way. */
  readonly caseInsensitive: boolean;
}

/** Lower-cases the letters of a canonical path (ASCII: the rest of it is percent-encoded). */
export function foldPathCase(path: string): string {
  return path.toLowerCase();
}

/**
 * The policies with every `paths` glob folded, for an application whose paths compare without
 * regard to case; the request's path is folded the same way before they see it (foldedInput).
 * Globs are canonical paths with `*` segments, so folding keeps their meaning but for case.
 */
export function withPathsFolded(policies: readonly RenderedPolicy[]): RenderedPolicy[] {
  const fold = (selectors: RenderedPolicy['include']) =>
    selectors.map((s) => (s.paths !== undefined ? { paths: s.paths.map(foldPathCase) } : s));
  return policies.map((p) => ({
    ...p,
    include: fold(p.include),
    require: fold(p.require),
    exclude: fold(p.exclude),
  }));
}

/** The request as policies of an application with case-insensitive paths see it. */
export function foldedInput(input: PolicyInput): PolicyInput {
  return { ...input, path: foldPathCase(input.path) };
}

/**
 * A segment Windows reads as another name: one ending in a dot or a space (Win32 strips them, so
 * `/admin./users` and `/admin%20/users` are `/admin/users`), one with a colon (an NTFS stream:
 * `/admin::$INDEX_ALLOCATION/users` is the folder `admin`), one with a tilde before a digit (an
 * 8.3 short name: `/ADMINI~1/users` can be `/administration/users`). The path is canonical
 * (canonicalizeTarget: dot segments resolved, unreserved characters decoded, other escapes in
 * upper case: a space is `%20`, an encoded colon `%3A`, which the application decodes).
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
