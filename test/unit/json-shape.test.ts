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
  const MEMBERS = { maxDepth: 10, maxContainers: 10, maxMembers: 4 };
  const memberCases: [string, string, string | undefined][] = [
    ['four elements', '[1,2,3,4]', undefined],
    ['five elements', '[1,2,3,4,5]', 'more than 4 array elements and object members'],
    ['a key with its value is one member', '{"a":1,"b":2,"c":3,"d":4}', undefined],
    ['five members', '{"a":1,"b":2,"c":3,"d":4,"e":5}', 'more than 4 array elements and object members'],
    ['empty containers hold none', '[[],{},[ ],{\n}]', undefined],
    ['a container is a member of its parent', '[[1],[2]]', undefined],
    ['members in all, at every depth', '[[1,2],[3]]', 'more than 4 array elements and object members'],
    ['white space around members', ' [ 1 ,\t2 ,\r\n 3 , 4 ] ', undefined],
    ['commas in strings do not count', '["a,b,c,d,e,f", "{,[,"]', undefined],
    ['a string first member', '["x", "y", "z", "w", "v"]', 'more than 4 array elements and object members'],
    ['unbounded without maxMembers', '[1,2,3,4,5,6,7,8,9]', undefined],
  ];
  it.each(memberCases)('%s', (name, text, problem) => {
    const limits = name.startsWith('unbounded') ? { maxDepth: 10, maxContainers: 10 } : MEMBERS;
    expect(jsonShapeProblem(text, limits)).toBe(problem);
  });
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
    type Measure = { depth: number; containers: number; members: number };
    const measure = (value: unknown, depth = 1): Measure => {
      if (typeof value !== 'object' || value === null) return { depth: depth - 1, containers: 0, members: 0 };
      const children = Object.values(value).map((v) => measure(v, depth + 1));
      return {
        depth: Math.max(depth, ...children.map((c) => c.depth)),
        containers: 1 + children.reduce((sum, c) => sum + c.containers, 0),
        members: children.length + children.reduce((sum, c) => sum + c.members, 0),
      };
    };
    for (let i = 0; i < 2_000; i++) {
      const value = build(0);
      // Compact, and indented (white space between every token).
      const text = JSON.stringify(value, null, i % 2 === 0 ? undefined : 1);
      const { depth, containers, members } = measure(value);
      const exact = { maxDepth: depth, maxContainers: containers, maxMembers: members };
      expect(jsonShapeProblem(text, exact)).toBeUndefined();
      if (depth > 0) expect(jsonShapeProblem(text, { ...exact, maxDepth: depth - 1 })).toBeDefined();
      if (containers > 0)
        expect(jsonShapeProblem(text, { ...exact, maxContainers: containers - 1 })).toBeDefined();
      if (members > 0) expect(jsonShapeProblem(text, { ...exact, maxMembers: members - 1 })).toBeDefined();
    }
  });
});
