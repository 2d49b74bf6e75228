import { canonicalizeTarget } from './canonical-path.ts';

const REGEX_SPECIAL = /[.+()$^|[\]{}]/g;

/**
 * Why a path glob is unusable, or undefined when it is fine. A glob must itself be a canonical
 * path (no `//`, no dot segments, no `?`), and `**` may only be a whole segment.
 */
export function pathGlobProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with /';
  if (pattern.includes('?') || pattern.includes('#')) return 'must not contain ? or #';
  if (pattern.includes('\\')) return 'must not contain a backslash';
  for (const segment of pattern.split('/')) {
    if (segment.includes('**') && segment !== '**') return '** must be a whole path segment';
  }
  const probe = pattern.replaceAll('*', 'x');
  const canonical = canonicalizeTarget(probe);
  if ('error' in canonical) return `is not a valid path (${canonical.detail})`;
  if (canonical.path !== probe)
    return `is not in canonical form (requests are matched as ${JSON.stringify(canonical.path.replaceAll('x', '*'))})`;
  return undefined;
}

function segmentSource(segment: string): string {
  if (segment === '*') return '[^/]+';
  return segment
    .split('*')
    .map((part) => part.replace(REGEX_SPECIAL, '\\$&'))
    .join('[^/]*');
}

/** The regular expression source (unanchored) of one checked glob. */
export function pathGlobSource(pattern: string): string {
  const segments = pattern.split('/').slice(1);
  let out = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') out += last ? '(?:/.*)?' : '(?:/[^/]+)*';
    else out += `/${segmentSource(segment)}`;
  });
  if (!pattern.endsWith('/') && !pattern.endsWith('/**')) out += '/?';
  return out === '(?:/.*)?' ? '/.*' : out;
}

/**
 * Compiles checked globs into one test of a canonical path. `*` matches within one segment (a
 * lone `*` at least one character), a trailing `/**` matches the path itself and everything
 * below, `/**` elsewhere any number of segments; a glob without a trailing slash also matches
 * the path with one. Case-sensitive.
 */
export function compilePathGlobs(patterns: readonly string[]): (path: string) => boolean {
  const re = new RegExp(`^(?:${patterns.map(pathGlobSource).join('|')})$`);
  // When every glob starts with a literal segment, a path whose first segment is none of them
  // cannot match: a Set lookup saves running the expression on most requests.
  const firsts = patterns.map((p) => firstSegment(p));
  if (firsts.some((f) => f.includes('*'))) return (path) => re.test(path);
  const allowed = new Set(firsts);
  return (path) => allowed.has(firstSegment(path)) && re.test(path);
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}
