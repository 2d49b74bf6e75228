import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { Composer, Parser, stringify } from 'yaml';
import { fastYamlDocuments } from '../../sidecar/src/config/yaml-fast-path.ts';

const ROOT = join(import.meta.dirname, '../..');

/** What the `yaml` package reads, as the config loader reads it: the documents' values, or 'error'. */
function yamlDocuments(text: string): unknown[] | 'error' {
  const values: unknown[] = [];
  for (const doc of new Composer({ uniqueKeys: true }).compose(new Parser().parse(text))) {
    if (doc.errors.length > 0) return 'error';
    try {
      values.push(doc.toJS({ maxAliasCount: 100 }));
    } catch {
      return 'error';
    }
  }
  return values;
}

/** The fast path either declines or reads exactly what `yaml` reads (-0, key order and all). */
function expectAgreement(text: string): 'declined' | 'read' {
  const fast = fastYamlDocuments(text);
  if (fast === undefined) return 'declined';
  const reference = yamlDocuments(text);
  expect(reference, `the fast path read a text yaml rejects: ${JSON.stringify(text)}`).not.toBe('error');
  expect(
    same(fast, reference),
    `${JSON.stringify(text)}: ${JSON.stringify(fast)} against ${JSON.stringify(reference)}`,
  ).toBe(true);
  return 'read';
}

/**
 * Deep equality for parsed YAML: Object.is on scalars (so -0 and NaN count), the same prototypes,
 * own keys in the same order. (vitest's toStrictEqual compares `constructor` properties, which a
 * document may have as a key.)
 */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keysA = Reflect.ownKeys(a);
  const keysB = Reflect.ownKeys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every(
      (key, i) =>
        key === keysB[i] &&
        same((a as Record<PropertyKey, unknown>)[key], (b as Record<PropertyKey, unknown>)[key]),
    )
  );
}

describe('the YAML fast path', () => {
  it.each([
    ['a: 1\nb: [x, "y", \'z\']\nc: {d: true, e: null, f: 1.5}', 'read'],
    ['a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n\nc: |+\n  kept\n\n', 'read'],
    ['- a\n- b: c\n  d: [1, -2, +3, 0o17, 0x1F, .5, 1e3, -.Inf, .NaN]', 'read'],
    ['x: 0b11\ny: 012\nz: 1_000\nw: yes\nv: on\nu: nULL\nt: 1:30\ns: 1.0e\nr: 09', 'read'],
    ['x: -0\ny: -0.0\nz: 12345678901234567890\nw: +.inf\nv: 0.1e-5', 'read'],
    ['a: "\\x41\\u00e9\\N\\/ \\t"\nb: \'it\'\'s\'\nc: plain # comment\nd: "x" # comment', 'read'],
    ['a: 1\n---\n---\nb: 2\n', 'read'],
    ['', 'read'],
    ['---', 'read'],
    ['# only a comment', 'read'],
    ['__proto__: {polluted: 1}\nconstructor: x', 'read'],
    ['<<: {x: 1}\ny: 2', 'read'],
    ['a: b\n  c\n  d', 'read'],
    ['{"json": [1, 2.5, "three", null, true], "nested": {"k": "v"}}', 'read'],
    // Corners the two read differently, declined:
    ['%YAML 1.1\n---\nx: yes', 'declined'],
    ['%TAG !e! tag:example.com,2000:\n---\nx: !e!y 1', 'declined'],
    ['x: !!float 1', 'declined'],
    ['x: !!str 12', 'declined'],
    ['x: !custom 1', 'declined'],
    ['x: !!binary aGk=', 'declined'],
    ['s: !!set {a, b}', 'declined'],
    ['a: &x 1\nb: *x', 'declined'],
    ['~: d', 'declined'],
    ['null: d', 'declined'],
    [': d', 'declined'],
    ['1: a', 'declined'],
    ['true: a', 'declined'],
    ['? [a, b]\n: c', 'declined'],
    ['{[a, b]: c}', 'declined'],
    ['x: 1e400', 'declined'],
    [`x: ${'9'.repeat(400)}`, 'declined'],
    [`x: 0x${'f'.repeat(300)}`, 'declined'],
    // Errors, declined so that `yaml` words the message:
    ['a: 1\na: 2', 'declined'],
    ['a:\n\tb: 1', 'declined'],
    ['a: b: c', 'declined'],
    ['a: "unterminated', 'declined'],
    ['a:\n  - b\n  -c', 'declined'],
    ['x: -', 'declined'],
    // Document end markers: `yaml` counts an empty document before a leading one, js-yaml does not.
    ['...\n0\n', 'declined'],
    ['a: 1\n...\n', 'declined'],
    // Found by the fuzzing below:
    ['\t:false', 'declined'],
    ['-\t&a 10\n', 'declined'],
    ['|1-\n lead\n', 'declined'],
    ['\uFEFF- :null\n', 'declined'],
    ['  ---\n::{}\n', 'declined'],
    ['\uFEFFa: 1', 'declined'],
    ['ca: |\n  -----BEGIN CERTIFICATE-----\n  MIIB\n  -----END CERTIFICATE-----\n', 'read'],
    [`${'['.repeat(150)}${']'.repeat(150)}`, 'declined'],
  ] as const)('%j is %s', (text, outcome) => {
    expect(expectAgreement(text)).toBe(outcome);
  });

  it('reads every example config and the thousand-policy benchmark config', () => {
    const files = [
      'examples/standalone/app.yaml',
      'examples/demo/app.yaml',
      'examples/cluster/storefront.yaml',
    ];
    for (const file of files)
      expect(expectAgreement(readFileSync(join(ROOT, file), 'utf8')), file).toBe('read');
    const policies = Array.from({ length: 1000 }, (_, i) => ({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: `team-${i}` },
      spec: {
        decision: 'allow',
        include: [{ groups: [`team-${i}`] }],
        require: [{ paths: [`/team-${i}/**`] }],
      },
    }));
    expect(expectAgreement(policies.map((p) => stringify(p)).join('---\n'))).toBe('read');
  });

  it('agrees on the CRD manifests (which use aliases, so the policies CRD is declined)', () => {
    const dir = join(ROOT, 'crds');
    const outcomes = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((file) => [file, expectAgreement(readFileSync(join(dir, file), 'utf8'))]);
    expect(outcomes).toContainEqual(['accesspolicies.gatehouse.dev.yaml', 'declined']);
  });

  /** Scalars chosen to sit on the edges of the core schema, mixed with arbitrary text. */
  const scalar = fc.oneof(
    fc.constantFrom(
      '',
      '~',
      'null',
      'Null',
      'NULL',
      'nULL',
      'true',
      'True',
      'TRUE',
      'yes',
      'on',
      'off',
      'y',
      'n',
      '0',
      '-0',
      '+0',
      '007',
      '0o17',
      '0o8',
      '0x1F',
      '0xG',
      '0b101',
      '1_000',
      '1:30',
      '.5',
      '-.5',
      '+.5',
      '5.',
      '1e3',
      '1E+3',
      '1e',
      '.inf',
      '-.Inf',
      '+.INF',
      '.nan',
      '.NaN',
      '1e400',
      '-1e400',
      '2024-01-01',
      '12345678901234567890',
      'a: b',
      '- x',
      '# c',
      '#',
      '"',
      "'",
      '&a',
      '*a',
      '!x',
      '%x',
      '@x',
      '`x',
      '|',
      '>',
      '[a]',
      '{a}',
      ' lead',
      'trail ',
      'tab\there',
      'line\nbreak',
      '\u0085',
      '\u2028',
      'é',
      '😀',
    ),
    fc.string(),
    fc.double().map(String),
    fc.integer().map(String),
  );
  const leaf = fc.oneof(scalar, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const key = fc.oneof(
    fc.constantFrom('apiVersion', 'kind', 'name', 'paths', '__proto__', 'x y', 'a:b'),
    fc.string({ minLength: 1 }),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('map')),
    list: fc.array(tie('node'), { maxLength: 4 }),
    map: fc.dictionary(key, tie('node'), { maxKeys: 4 }),
  })).node;
  const style = fc.record({
    defaultStringType: fc.constantFrom(
      'PLAIN',
      'QUOTE_DOUBLE',
      'QUOTE_SINGLE',
      'BLOCK_LITERAL',
      'BLOCK_FOLDED',
    ),
    defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE'),
    collectionStyle: fc.constantFrom('any', 'block', 'flow'),
    indent: fc.integer({ min: 1, max: 4 }),
  } as const);

  it('agrees on fuzzed documents written by both YAML writers in every style', () => {
    let read = 0;
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 3 }),
        style,
        fc.boolean(),
        (docs, options, viaJsYaml) => {
          const text = docs
            .map((doc) => (viaJsYaml ? dump(doc) : stringify(doc, options as never)))
            .join('---\n');
          if (expectAgreement(text) === 'read') read += 1;
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 1500), seed: Number(process.env.SEED ?? 19) },
    );
    expect(read).toBeGreaterThan(500); // the fast path is taken, not just declined
  });

  it('agrees on fuzzed documents with syntax mutated at random places', () => {
    const noise = fc.constantFrom(
      ':',
      ': ',
      '-',
      '- ',
      '#',
      ' #',
      "'",
      '"',
      '&a ',
      '*a',
      '!',
      '!!str ',
      '%',
      '\t',
      '\n',
      '  ',
      '? ',
      '[',
      ']',
      '{',
      '}',
      ',',
      '|',
      '>',
      '---\n',
      '...\n',
      '\\',
      '~',
      '\uFEFF',
    );
    let read = 0;
    fc.assert(
      fc.property(
        value,
        fc.array(fc.tuple(fc.nat(), noise), { minLength: 1, maxLength: 4 }),
        (doc, edits) => {
          let text = stringify(doc);
          for (const [at, insert] of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i);
          }
          if (expectAgreement(text) === 'read') read += 1;
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 3000), seed: Number(process.env.SEED ?? 19) },
    );
    expect(read).toBeGreaterThan(300);
  });
});
