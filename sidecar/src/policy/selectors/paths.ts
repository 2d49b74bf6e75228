import { compilePathGlobs } from '../../../../contract/policy/path-glob.ts';
import type { SelectorDefinition } from '../selector.ts';

/**
 * Matches when the canonical request path (the path the upstream receives) matches a listed
 * glob. See path-glob.ts for the glob language; matching is case-sensitive.
 */
export const paths: SelectorDefinition<'paths'> = {
  kind: 'paths',
  pass: 'path_matched',
  fail: 'path_not_matched',
  compile(value) {
    const test = compilePathGlobs(value);
    return (input) => test(input.path);
  },
};
