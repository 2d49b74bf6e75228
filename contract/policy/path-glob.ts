import { canonicalizeTarget } from './canonical-path.ts';

const NEEDS_ENCODING = /[\u0020\u00a0-\uffff]/;
const NEEDS_ENCODING_RUNS = /[\u0020\u00a0-\uffff]+/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

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
  // Requests send a space or a character outside ASCII percent-encoded (as UTF-8), and are
  // matched that way: say how to write it instead of refusing it as an invalid path.
  if (NEEDS_ENCODING.test(pattern) && !CONTROL.test(pattern)) {
    const encoded = pattern.replace(NEEDS_ENCODING_RUNS, (run) =>
      [...Buffer.from(run, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase()}`).join(''),
    );
    return `has a space or characters outside ASCII, which requests send percent-encoded: write ${JSON.stringify(encoded)}`;
  }
  const probe = pattern.replaceAll('*', 'x');
  const canonical = canonicalizeTarget(probe);
  if ('error' in canonical) return `is not a valid path (${canonical.detail})`;
  if (canonical.path !== probe)
    return `is not in canonical form (requests are matched as ${JSON.stringify(canonical.path.replaceAll('x', '*'))})`;
  return undefined;
}

/**
 * A test of a whole text against a pattern where each `*` stands for any run of characters (a
 * lone `*`: any non-empty text), in one pass without backtracking, as a path segment is tested.
 */
export function compileWildcard(pattern: string): (text: string) => boolean {
  const test = segmentTest(pattern);
  return (text) => test(text, 0, text.length);
}

/** A test of the path segment `path[start, end)` against one glob segment (never `**`). */
type SegmentTest = (path: string, start: number, end: number) => boolean;

/**
 * One glob segment: a literal, a lone `*` (one non-empty segment), or literal parts around `*`s
 * (each `*` any run of characters within the segment). Parts are found left to right, each at
 * its first place after the one before, which decides a match in one pass: no backtracking.
 */
function segmentTest(glob: string): SegmentTest {
  if (glob === '*') return (_path, start, end) => end > start;
  if (!glob.includes('*'))
    return (path, start, end) => end - start === glob.length && path.startsWith(glob, start);
  const parts = glob.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  const middle = parts.slice(1, -1).filter((part) => part.length > 0);
  const shortest = parts.reduce((sum, part) => sum + part.length, 0);
  return (path, start, end) => {
    if (end - start < shortest || !path.startsWith(first, start) || !path.startsWith(last, end - last.length))
      return false;
    let at = start + first.length;
    const before = end - last.length;
    for (const part of middle) {
      const found = path.indexOf(part, at);
      if (found === -1 || found + part.length > before) return false;
      at = found + part.length;
    }
    return true;
  };
}

/**
 * One glob, compiled: the segment tests before its first `**` (`head`), the runs between two
 * `**` (`middle`), the tests after its last inner `**` (`tail`), and how its end is read.
 */
interface CompiledGlob {
  readonly head: readonly SegmentTest[];
  readonly middle: readonly (readonly SegmentTest[])[];
  /** The tests after the last inner `**`; undefined when the glob has none. */
  readonly tail: readonly SegmentTest[] | undefined;
  /** Ends in `/**`: the path itself and everything below it match. */
  readonly anyBelow: boolean;
  /** Ends in neither `/` nor `/**`: the path may carry one trailing slash. */
  readonly trailingSlashOptional: boolean;
}

function compileGlob(pattern: string): CompiledGlob {
  const globSegments = pattern.slice(1).split('/');
  const anyBelow = globSegments[globSegments.length - 1] === '**';
  if (anyBelow) globSegments.pop();
  const runs: SegmentTest[][] = [[]];
  for (const glob of globSegments) {
    if (glob === '**') runs.push([]);
    else runs[runs.length - 1]?.push(segmentTest(glob));
  }
  const head = runs.shift() ?? [];
  const tail = anyBelow || runs.length === 0 ? undefined : runs.pop();
  return {
    head,
    middle: runs.filter((run) => run.length > 0),
    tail,
    anyBelow,
    trailingSlashOptional: !pattern.endsWith('/') && !anyBelow,
  };
}

/**
 * The head of a glob against the first segments of `path[0, pathEnd)`, in one pass along the
 * path: where the segment after them starts (`pathEnd + 1` when none is left), or -1.
 */
function headEnd(head: readonly SegmentTest[], path: string, pathEnd: number): number {
  let at = 1;
  for (let i = 0; i < head.length; i++) {
    if (at > pathEnd) return -1;
    const slash = path.indexOf('/', at);
    const end = slash === -1 ? pathEnd : slash; // a slash cut off at pathEnd is found at pathEnd
    if (!(head[i] as SegmentTest)(path, at, end)) return -1;
    at = end + 1;
  }
  return at;
}

/**
 * A glob with one inner `**`: its head from the start, its tail back from the end, and what lies
 * between them non-empty segments. Nothing allocated.
 */
function headAndTailMatch(
  head: readonly SegmentTest[],
  tail: readonly SegmentTest[],
  path: string,
  pathEnd: number,
): boolean {
  const after = headEnd(head, path, pathEnd);
  if (after === -1) return false;
  let end = pathEnd;
  let start = 0;
  for (let i = tail.length - 1; i >= 0; i--) {
    if (end < after) return false;
    start = path.lastIndexOf('/', end - 1) + 1;
    if (start < after || !(tail[i] as SegmentTest)(path, start, end)) return false;
    end = start - 1;
  }
  // Skipped: the segments from `after` up to the slash before the tail's first, none of them
  // empty (no two slashes in a row from the one before `after` to the one before `start`).
  const empty = path.indexOf('//', after - 1);
  return empty === -1 || empty >= start - 1;
}

/** Where each segment of `path[0, pathEnd)` starts. */
function segmentStarts(path: string, pathEnd: number): number[] {
  const starts: number[] = [];
  if (pathEnd === 0) return starts;
  for (let at = 1; ; ) {
    starts.push(at);
    const slash = path.indexOf('/', at);
    if (slash === -1 || slash >= pathEnd) return starts;
    at = slash + 1;
  }
}

/**
 * A glob with inner `**` (each any number of non-empty segments). Each run between two `**` is
 * taken at the first place it matches, which never loses a match (a later run can still begin
 * wherever it could before), so the work is at most the path's segments times the glob's: no
 * input makes it backtrack.
 */
function innerMatches(glob: CompiledGlob, path: string, pathEnd: number): boolean {
  const starts = segmentStarts(path, pathEnd);
  const count = starts.length;
  const endOf = (i: number): number => (i + 1 < count ? (starts[i + 1] ?? 0) - 1 : pathEnd);
  const isEmpty = (i: number): boolean => endOf(i) === starts[i];
  const runAt = (run: readonly SegmentTest[], first: number): boolean => {
    for (let i = 0; i < run.length; i++) {
      if (!run[i]?.(path, starts[first + i] ?? 0, endOf(first + i))) return false;
    }
    return true;
  };
  const { head, middle, tail } = glob;
  if (count < head.length || !runAt(head, 0)) return false;
  // The segments an inner `**` may skip end before the tail, and never take an empty one.
  const limit = tail === undefined ? count : count - tail.length;
  let at = head.length;
  for (const run of middle) {
    let found = -1;
    for (let first = at; first + run.length <= limit; first++) {
      if (runAt(run, first)) {
        found = first;
        break;
      }
      if (isEmpty(first)) break;
    }
    if (found === -1) return false;
    at = found + run.length;
  }
  if (tail === undefined) return true;
  if (limit < at) return false;
  for (let i = at; i < limit; i++) if (isEmpty(i)) return false;
  return runAt(tail, limit);
}

function globMatches(glob: CompiledGlob, path: string): boolean {
  const pathEnd =
    glob.trailingSlashOptional && path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
  if (glob.middle.length > 0) return innerMatches(glob, path, pathEnd);
  if (glob.tail !== undefined) return headAndTailMatch(glob.head, glob.tail, path, pathEnd);
  const after = headEnd(glob.head, path, pathEnd);
  return after !== -1 && (glob.anyBelow || after === pathEnd + 1);
}

/**
 * Compiles checked globs into one test of a canonical path. `*` matches within one segment (a
 * lone `*` at least one character), a trailing `/**` matches the path itself and everything
 * below, `/**` elsewhere any number of segments; a glob without a trailing slash also matches
 * the path with one. Case-sensitive. The path is client input: the test walks its segments,
 * in time linear in them for each glob, and is never a backtracking regular expression (one
 * with two inner `**` took seconds for one request of repeated segments).
 */
export function compilePathGlobs(patterns: readonly string[]): (path: string) => boolean {
  if (patterns.includes('/**')) return () => true;
  const globs = patterns.map(compileGlob);
  const only = globs.length === 1 ? globs[0] : undefined;
  const test = only
    ? (path: string): boolean => globMatches(only, path)
    : (path: string): boolean => {
        for (let i = 0; i < globs.length; i++) if (globMatches(globs[i] as CompiledGlob, path)) return true;
        return false;
      };
  // When every glob starts with a literal segment, a path whose first segment is none of them
  // cannot match: a Set lookup saves the walk on most requests.
  const firsts = patterns.map((p) => firstSegment(p));
  if (firsts.some((f) => f.includes('*'))) return test;
  const allowed = new Set(firsts);
  return (path) => allowed.has(firstSegment(path)) && test(path);
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}
