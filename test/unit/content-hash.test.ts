import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../contract/config/render.ts';
import { createPrng } from '../harness/prng.ts';
import { randomText } from '../helpers/seeded-random.ts';

const mulberry32 = (seed: number): (() => number) => {
  const prng = createPrng(seed);
  return () => prng.next();
};

// A config's generation is the hash of its JSON text, computed alike by the operator and every
// sidecar (a sidecar that finds another generation after a change reconnects for whole lists).
// The revocations' text is kept per frozen revocation: the text hashed must stay JSON.stringify's,
// byte for byte, whatever the config holds.

const plainHash = (value: unknown): string =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

const ODD = ['', '"', '\\', '\u0000', '\u2028', '\ud800', 'é', '</script>', 'revocations', '\n\t'];

const text = (random: () => number): string => randomText(random, ODD);

function revocation(random: () => number, i: number): Record<string, unknown> {
  const r: Record<string, unknown> = {
    name: `session-end-${i.toString(16).padStart(20, '0')}`,
    user: random() < 0.3 ? text(random) : null,
    subject: random() < 0.3 ? text(random) : null,
    provider: random() < 0.5 ? text(random) : null,
    ...(random() < 0.5 ? { session: text(random) } : {}),
    before: Math.floor(random() * 2 ** 40),
    reason: random() < 0.8 ? text(random) : null,
  };
  return random() < 0.7 ? Object.freeze(r) : r;
}

describe('a config’s generation', () => {
  it('is the hash of JSON.stringify of it, for 300 random configs (revocations frozen or not, first, last or between, odd strings everywhere)', () => {
    const random = mulberry32(20261207);
    for (let round = 0; round < 300; round++) {
      const count = Math.floor(random() * 300);
      const revocations = Array.from({ length: count }, (_, i) => revocation(random, i));
      const rest = {
        application: { name: text(random), namespace: text(random) },
        policies: [{ name: 'revocations', note: `"revocations":[${text(random)}]` }],
        hosts: [text(random), text(random)],
      };
      const value =
        random() < 0.3
          ? { revocations, ...rest }
          : random() < 0.5
            ? { ...rest, revocations }
            : { application: rest.application, revocations, policies: rest.policies };
      expect(contentHash(value)).toBe(plainHash(value));
      // Again: the frozen ones' text now comes from what was kept.
      expect(contentHash(value)).toBe(plainHash(value));
    }
  });

  it('of a revocation changed (a new frozen object in its place) is another, as JSON.stringify says', () => {
    const random = mulberry32(7);
    const revocations = Array.from({ length: 100 }, (_, i) => Object.freeze(revocation(random, i)));
    const before = contentHash({ generation: undefined, revocations });
    revocations[50] = Object.freeze({ ...revocations[50], reason: 'changed' });
    const after = { revocations };
    expect(contentHash(after)).toBe(plainHash(after));
    expect(contentHash(after)).not.toBe(before);
  });

  it('of values that are not configs is JSON.stringify’s too', () => {
    for (const value of [null, 1, 'x', [], { revocations: 'none' }, { revocations: [1, null, 'a'] }])
      expect(contentHash(value)).toBe(plainHash(value));
  });
});
