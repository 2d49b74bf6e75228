import { listItemErrors } from '../../api/validate.ts';
import { compilePathGlobs, pathGlobProblem } from '../path-glob.ts';
import type { SelectorDefinition } from '../selector.ts';

/**
 * Matches when the canonical request path (the path the upstream receives) matches a listed
 * glob. See path-glob.ts for the glob language; matching is case-sensitive.
 */
export const paths: SelectorDefinition<'paths'> = {
  kind: 'paths',
  reads: 'request',
  pass: 'path_matched',
  fail: 'path_not_matched',
  check: (value, at) => listItemErrors(value, at, pathGlobProblem),
  normalise: (value) => [...new Set(value)],
  compile(value) {
    const test = compilePathGlobs(value);
    return (input) => test(input.path);
  },
};
