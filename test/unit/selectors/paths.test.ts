import { request } from '../../helpers/policy-input.ts';
import { type SelectorCase, selectorTable } from '../../helpers/selector-table.ts';

/** The `paths` selector (sidecar/src/policy/selectors/paths.ts): its cases, run as the engine runs it. */
const CASES: SelectorCase[] = [
  ['exact', { paths: ['/admin'] }, request({ path: '/admin' }), true],
  ['exact with trailing slash', { paths: ['/admin'] }, request({ path: '/admin/' }), true],
  ['exact does not cover children', { paths: ['/admin'] }, request({ path: '/admin/users' }), false],
  ['case-sensitive', { paths: ['/admin'] }, request({ path: '/ADMIN' }), false],
  ['prefix is not a match', { paths: ['/admin'] }, request({ path: '/administrator' }), false],
  ['/** covers the base', { paths: ['/admin/**'] }, request({ path: '/admin' }), true],
  ['/** covers descendants', { paths: ['/admin/**'] }, request({ path: '/admin/a/b/c' }), true],
  ['/** is segment-bound', { paths: ['/admin/**'] }, request({ path: '/administrator' }), false],
  ['* within a segment', { paths: ['/api/v*/users'] }, request({ path: '/api/v2/users' }), true],
  ['* does not cross /', { paths: ['/api/*/users'] }, request({ path: '/api/a/b/users' }), false],
  ['lone * needs a segment', { paths: ['/files/*'] }, request({ path: '/files/' }), false],
  ['/**/ in the middle', { paths: ['/a/**/z'] }, request({ path: '/a/b/c/z' }), true],
  ['/**/ matches zero segments', { paths: ['/a/**/z'] }, request({ path: '/a/z' }), true],
  ['regex characters are literal', { paths: ['/a.b'] }, request({ path: '/axb' }), false],
  ['/** matches everything', { paths: ['/**'] }, request({ path: '/x/y' }), true],
  ['root only', { paths: ['/'] }, request({ path: '/x' }), false],
];

selectorTable('paths', CASES);
