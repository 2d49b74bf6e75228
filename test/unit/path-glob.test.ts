import { describe, expect, it } from 'vitest';
import { compilePathGlobs, pathGlobProblem } from '../../contract/policy/path-glob.ts';
import { pathGlobsAsRegExp } from '../helpers/path-glob-oracle.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

const GLOB_SEGMENTS = ['a', 'b', 'ab', 'a.b', '*', 'a*', '*b', '*a*', 'a*b*a', 'a*ab*b', '*ab*ba*', '**'];
const PATH_SEGMENTS = ['a', 'b', 'ab', 'ba', 'aab', 'abb', 'a.b', 'axb', 'abba', 'aabab', 'axab', ''];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function randomGlob(random: () => number): string {
  const count = Math.floor(random() * 6);
  const segments = Array.from({ length: count }, () => pick(random, GLOB_SEGMENTS));
  if (random() < 0.2) segments.push('');
  return `/${segments.join('/')}`;
}

function randomPath(random: () => number): string {
  const count = Math.floor(random() * 8);
  return `/${Array.from({ length: count }, () => pick(random, PATH_SEGMENTS)).join('/')}`;
}

describe('path globs: a walk over segments that agrees with the regular expression', () => {
  it('the same answer on 60,000 random globs and paths (paths with empty segments anywhere, lists of one to three globs)', () => {
    const random = seededRandom(0x9e3779b9);
    let matched = 0;
    for (let round = 0; round < 6_000; round++) {
      const globs = Array.from({ length: 1 + Math.floor(random() * 3) }, () => randomGlob(random)).filter(
        (glob) => pathGlobProblem(glob) === undefined,
      );
      if (globs.length === 0) continue;
      const walk = compilePathGlobs(globs);
      const oracle = pathGlobsAsRegExp(globs);
      for (let i = 0; i < 10; i++) {
        const path = randomPath(random);
        const expected = oracle.test(path);
        if (walk(path) !== expected)
          expect({ globs, path, matched: walk(path) }).toEqual({ globs, path, matched: expected });
        if (expected) matched++;
      }
    }
    // Enough of both answers for the comparison to mean something.
    expect(matched).toBeGreaterThan(5_000);
  });

  it('the same answer on the documented corners', () => {
    const corners: [string, string][] = [
      ['/**', '/'],
      ['/**/**', '/'],
      ['/a/**', '/a'],
      ['/a/**', '/a/'],
      ['/a/**', '/ab'],
      ['/a/**/b', '/a/b/'],
      ['/a/**/', '/a/'],
      ['/a/**/', '/a/x/y/'],
      ['/**/b', '/b'],
      ['/**/a/**', '/x/a'],
      ['/*', '/'],
      ['/', '/'],
      ['/', '/a'],
      ['/a*b*a', '/aba'],
      ['/a*b*a', '/ababa'],
      ['/ab*ba', '/aba'],
    ];
    for (const [glob, path] of corners) {
      expect([glob, path, compilePathGlobs([glob])(path)]).toEqual([
        glob,
        path,
        pathGlobsAsRegExp([glob]).test(path),
      ]);
    }
  });
});

describe('path globs against hostile paths', () => {
  // With the regular expression each of these took from 0.8 s to more than 20 s (the first 15.7 s:
  // the cube of the count of repeated segments; stars in a segment: a power of its length).
  const hostile: [string, string][] = [
    ['/**/team/**/reports/**/export', `${'/team'.repeat(1_500)}${'/reports'.repeat(1_000)}/z`],
    ['/**/x/**/y/**/z/**/w', `${'/x/y/z'.repeat(2_700)}/q`],
    ['/files/*a*a*a*b', `/files/${'a'.repeat(16_000)}`],
    ['/**/*a*a*b/**/c', `${`/${'a'.repeat(400)}`.repeat(38)}/q`],
  ];
  it.each(hostile)('%s on a 16 KB path: well under a millisecond per test', (glob, path) => {
    const test = compilePathGlobs([glob]);
    expect(path.length).toBeGreaterThan(15_000);
    const started = performance.now();
    for (let i = 0; i < 20; i++) expect(test(`${path}${i % 2 ? '' : '/'}`)).toBe(false);
    // 20 tests in 100 ms: a generous bound on a loaded machine, where the regular expression took
    // seconds for one.
    expect(performance.now() - started).toBeLessThan(100);
  });
});
