import Type from 'typebox';
import { Format } from 'typebox/format';
import { Guard } from 'typebox/guard';
import { Check } from 'typebox/schema';
import { Hashing } from 'typebox/system';
import { describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import { generateApplicationKeys } from '../../contract/keys.ts';
import { checkFactoryBody, PRECOMPILED, precompiledChecksModule } from '../../scripts/precompiled-checks.ts';
import { createPrng, type Prng } from '../harness/prng.ts';
import { testApplication, testConfig, testPolicy } from '../helpers/fixtures.ts';

// The shipped bundle checks a sidecar's config with code generated at build time from TypeBox's
// compiler. These hold each generated check to TypeBox's own interpreted Check, on valid values
// and on values mutated at random places (a removed field, a value of another type, an unknown
// field, a string that breaks its pattern or its length).

type CheckFunction = (value: unknown) => boolean;

function generated(name: string): CheckFunction {
  const entry = PRECOMPILED.find((p) => p.name === name);
  if (!entry) throw new Error(`no precompiled check named ${name}`);
  const factory = new Function('Guard', 'Hashing', 'Format', checkFactoryBody(entry.schema, entry.name)) as (
    guard: unknown,
    hashing: unknown,
    format: unknown,
  ) => CheckFunction;
  return factory(Guard, Hashing, Format);
}

const REPLACEMENTS: readonly unknown[] = [
  null,
  0,
  -1,
  1.5,
  '',
  'x',
  'UPPER',
  'a'.repeat(300),
  ' spaced ',
  'http://x',
  '/path',
  true,
  [],
  {},
  ['x'],
  { extra: 1 },
];

/** Every path to a value inside `value` (objects and arrays), the root included. */
function paths(
  value: unknown,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (Array.isArray(value)) for (const [i, v] of value.entries()) paths(v, [...at, i], out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

/** A deep copy of `value` with one random change at one random place. */
function mutate(value: unknown, prng: Prng): unknown {
  const copy = structuredClone(value);
  const all = paths(copy).filter((p) => p.length > 0);
  const path = prng.pick(all);
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = path[path.length - 1] as string | number;
  const kind = prng.int(3);
  if (kind === 0 && !Array.isArray(parent)) delete parent[key];
  else if (kind === 1 && !Array.isArray(parent)) parent[`unknown${prng.int(3)}`] = prng.pick(REPLACEMENTS);
  else parent[key] = prng.pick(REPLACEMENTS);
  return copy;
}

const keys = generateApplicationKeys('ES256');
const revocation = (i: number) => ({
  name: `r${i}`,
  user: i % 2 === 0 ? `user${i}@example.com` : null,
  subject: i % 2 === 0 ? null : `sub-${i}`,
  provider: i % 2 === 0 ? null : 'corp',
  before: 1_790_000_000 + i,
  reason: i % 3 === 0 ? null : 'stolen laptop',
});
const configs = [
  testConfig(),
  testConfig(
    { policies: [{ name: 'admins' }, { name: 'open' }], trustedProxies: ['10.0.0.0/8'] },
    {
      admins: {
        decision: 'allow',
        include: [{ emails: ['ann@example.com'] }, { groups: ['admins'] }],
        require: [{ ipRanges: ['10.0.0.0/8'] }],
        exclude: [{ paths: ['/internal/**'] }],
      },
    },
  ),
  withRevocations(testConfig(), [revocation(1), revocation(2), revocation(3)]),
];

describe('checks generated when the bundle is built', () => {
  it('the config check agrees with TypeBox on valid configs and on 3,000 mutated ones', () => {
    const schema = PRECOMPILED.find((p) => p.name === 'SidecarConfigSchema')?.schema;
    const check = generated('SidecarConfigSchema');
    const prng = createPrng(19);
    let refused = 0;
    for (const config of configs) {
      const value = JSON.parse(JSON.stringify(config));
      expect(check(value)).toBe(true);
      expect(Check(schema as never, value)).toBe(true);
      for (let i = 0; i < 1000; i++) {
        const changed = mutate(value, prng);
        const expected = Check(schema as never, changed);
        expect(check(changed), JSON.stringify(changed).slice(0, 300)).toBe(expected);
        if (!expected) refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  /** The generated check of `name` agrees with TypeBox's Check on `values` and `rounds` mutations of each. */
  function agrees(name: string, values: readonly unknown[], rounds: number, seed: number): void {
    const schema = PRECOMPILED.find((p) => p.name === name)?.schema;
    const check = generated(name);
    const prng = createPrng(seed);
    let refused = 0;
    for (const original of values) {
      const value = JSON.parse(JSON.stringify(original));
      expect(check(value), name).toBe(true);
      for (let i = 0; i < rounds; i++) {
        const changed = mutate(value, prng);
        const expected = Check(schema as never, changed);
        expect(check(changed), `${name}: ${JSON.stringify(changed).slice(0, 300)}`).toBe(expected);
        if (!expected) refused++;
      }
    }
    expect(refused, name).toBeGreaterThan(0);
  }

  it('the keys check agrees with TypeBox', () => {
    agrees('ApplicationKeysSchema', [keys], 500, 7);
  });

  it('the checks of the config documents agree with TypeBox, their date-time format included', () => {
    const stamped = { creationTimestamp: '2026-11-21T10:00:00Z', uid: 'u-1', resourceVersion: '7' };
    const application = testApplication({ policies: [{ name: 'admins' }] });
    agrees(
      'AccessApplication',
      [application, { ...application, metadata: { ...application.metadata, ...stamped } }],
      500,
      11,
    );
    const policy = testPolicy('admins', {
      decision: 'allow',
      include: [{ groups: ['admins'] }],
      exclude: [{ paths: ['/internal/**'] }],
    });
    agrees('AccessPolicy', [policy, { ...policy, metadata: { ...policy.metadata, ...stamped } }], 500, 13);
    const revocation = {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessRevocation',
      metadata: { name: 'rev-1', ...stamped },
      spec: { user: 'ada@example.com', revokedBefore: '2026-11-21T09:00:00Z', reason: 'stolen laptop' },
    };
    agrees('AccessRevocation', [revocation], 500, 17);
    // The format itself decides: a time that is not one is refused by both.
    const check = generated('AccessRevocation');
    const bad = { ...revocation, spec: { ...revocation.spec, revokedBefore: 'yesterday' } };
    expect(check(bad)).toBe(false);
    expect(Check(PRECOMPILED.find((p) => p.name === 'AccessRevocation')?.schema as never, bad)).toBe(false);
  });

  it('the module for the bundle holds a check for every listed schema and none for others', () => {
    const source = precompiledChecksModule();
    for (const p of PRECOMPILED) expect(source).toContain(`[${p.name}, (Guard, Hashing, Format) => {`);
    expect(source).toContain('if (factory === undefined) return undefined;');
  });

  it('refuses, at build time, a schema whose check needs a value code cannot carry', () => {
    const refined = Type.Refine(Type.String(), (value: string) => value.length > 2);
    expect(() => checkFactoryBody(refined, 'Refined')).toThrow(/cannot be written as code/);
  });
});
