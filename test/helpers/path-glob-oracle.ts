const REGEX_SPECIAL = /[.+()$^|[\]{}]/g;

function segmentSource(segment: string): string {
  if (segment === '*') return '[^/]+';
  return segment
    .split('*')
    .map((part) => part.replace(REGEX_SPECIAL, '\\$&'))
    .join('[^/]*');
}

function globSource(pattern: string): string {
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
 * The glob language of contract/policy/path-glob.ts written as one regular expression, as the
 * sidecar matched paths until a glob with two inner `**` let one request take seconds: the
 * reference the walk is compared with, on inputs short enough for backtracking to be harmless.
 */
export function pathGlobsAsRegExp(patterns: readonly string[]): RegExp {
  return new RegExp(`^(?:${patterns.map(globSource).join('|')})$`);
}
