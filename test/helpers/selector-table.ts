import { describe, expect, it } from 'vitest';
import type { Selector, SelectorKind } from '../../contract/api/access-policy.ts';
import { normaliseSelector } from '../../contract/config/rendered-policy.ts';
import type { PolicyInput } from '../../sidecar/src/policy/input.ts';
import type { SelectorDefinition } from '../../sidecar/src/policy/selector.ts';
import { SELECTORS } from '../../sidecar/src/policy/selectors/registry.ts';

/** One row of a selector's table: a name, the selector, the request, whether it matches. */
export type SelectorCase = readonly [name: string, selector: Selector, input: PolicyInput, expected: boolean];

/** Runs a selector the way the engine does: normalised value, compiled matcher. */
export function runSelector(selector: Selector, input: PolicyInput): boolean {
  const normalised = normaliseSelector(selector);
  const kind = Object.keys(normalised)[0] as SelectorKind;
  const definition = SELECTORS[kind] as SelectorDefinition<SelectorKind>;
  return definition.compile(normalised[kind] as never)(input);
}

/** For indexed selectors, the index must agree with the matcher on every case. */
function indexAgrees(selector: Selector, input: PolicyInput): boolean {
  const normalised = normaliseSelector(selector);
  const kind = Object.keys(normalised)[0] as SelectorKind;
  const index = (SELECTORS[kind] as SelectorDefinition<SelectorKind>).index;
  if (!index) return true;
  const value = normalised[kind] as never;
  const keys = new Set(index.keysOf(value));
  return (
    index
      .requestKeys([value])(input)
      .some((k) => keys.has(k)) === runSelector(selector, input)
  );
}

/** The table test of one selector kind: every case matches as expected, and its index agrees. */
export function selectorTable(kind: SelectorKind, cases: readonly SelectorCase[]): void {
  describe(`policy selectors > ${kind}`, () => {
    it.each(cases)('%s', (_name, selector, input, expected) => {
      expect(runSelector(selector, input)).toBe(expected);
      expect(indexAgrees(selector, input)).toBe(true);
    });
  });
}
