import type { SelectorKind } from '../../../contract/api/access-policy.ts';
import type { SelectorValue } from '../../../contract/policy/selector-rules.ts';
import type { PolicyInput } from './input.ts';
import type { SelectorReason } from './reasons.ts';

export type { SelectorValue };

/** A compiled selector: a pure test of one request. */
export type Matcher = (input: PolicyInput) => boolean;

/**
 * How the sidecar matches one policy selector: how to compile its checked, normalised value
 * (SELECTOR_RULES in the contract checks and normalises), and the reason codes of its two
 * outcomes. Set-like selectors also expose index keys so the engine can find the selectors a
 * request passes with one map lookup per key instead of testing each one.
 */
export interface SelectorDefinition<K extends SelectorKind> {
  readonly kind: K;
  readonly pass: SelectorReason;
  readonly fail: SelectorReason;
  /** Compiles a checked, normalised value into a matcher. */
  compile(value: SelectorValue<K>): Matcher;
  /**
   * For set-like selectors: `compile(v)(input)` is true exactly when keysOf(v) and the request's
   * keys meet. `requestKeys` is built once per config from every value of this kind in use.
   */
  readonly index?: {
    keysOf(value: SelectorValue<K>): readonly string[];
    requestKeys(values: readonly SelectorValue<K>[]): (input: PolicyInput) => readonly string[];
  };
}
