import { describe, expect, it } from 'vitest';
import { jsonShapeProblem } from '../../lib/json-shape.ts';

const LIMITS = { maxDepth: 3, maxContainers: 5 };

describe('jsonShapeProblem', () => {
  const cases: [string, string, string | undefined][] = [
    ['flat', '{"a":1,"b":[1,2]}', undefined],
    ['at the depth', '[[[1]]]', undefined],
    ['past the depth', '[[[[1]]]]', 'nested deeper than 3'],
    ['depth comes back down', '[[[1]]],[[[2]]]', 'more than 5 arrays and objects'],
    ['at the count', '[[],[],[],{}]', undefined],
    ['past the count', '[[],[],[],{},{}]', 'more than 5 arrays and objects'],
    ['brackets in strings do not count', '["[[[[[[", "{{{{{{", "]]]]"]', undefined],
    ['an escaped quote does not end a string', '["\\"[[[[[[[", 1]', undefined],
    ['an escaped backslash before the closing quote', '["\\\\", [[[1]]]]', 'nested deeper than 3'],
    ['not JSON passes (JSON.parse refuses it)', 'not json', undefined],
    ['empty', '', undefined],
  ];
  it.each(cases)('%s', (_name, text, problem) => {
    expect(jsonShapeProblem(text, LIMITS)).toBe(problem);
  });

  it('agrees with the tree JSON.parse builds, on random documents', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const build = (depth: number): unknown => {
      const r = random();
      if (depth > 6 || r < 0.3) return random() < 0.5 ? `s[{"\\${Math.floor(random() * 9)}` : 1;
      if (r < 0.65) return Array.from({ length: Math.floor(random() * 4) }, () => build(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}]`, build(depth + 1)]),
      );
    };
    const measure = (value: unknown, depth = 1): { depth: number; containers: number } => {
      if (typeof value !== 'object' || value === null) return { depth: depth - 1, containers: 0 };
      const children = Object.values(value).map((v) => measure(v, depth + 1));
      return {
        depth: Math.max(depth, ...children.map((c) => c.depth)),
        containers: 1 + children.reduce((sum, c) => sum + c.containers, 0),
      };
    };
    for (let i = 0; i < 2_000; i++) {
      const value = build(0);
      const text = JSON.stringify(value);
      const { depth, containers } = measure(value);
      expect(jsonShapeProblem(text, { maxDepth: depth, maxContainers: containers })).toBeUndefined();
      if (depth > 0)
        expect(jsonShapeProblem(text, { maxDepth: depth - 1, maxContainers: containers })).toBeDefined();
      if (containers > 0)
        expect(jsonShapeProblem(text, { maxDepth: depth, maxContainers: containers - 1 })).toBeDefined();
    }
  });
});
