import type { Selector, SelectorKind } from '../api/access-policy.ts';
import type { FieldError } from '../errors.ts';
import type { PolicyInput } from './input.ts';
import type { SelectorReason } from './reasons.ts';

/** The value of one selector kind, as written in an AccessPolicy. */
export type SelectorValue<K extends SelectorKind> = NonNullable<Selector[K]>;

/** A compiled selector: a pure test of one request. */
export type Matcher = (input: PolicyInput) => boolean;

/**
 * One policy selector: how to check, normalise and compile its value, and the reason codes of
 * its two outcomes. Set-like selectors also expose index keys so the engine can find the
 * selectors a request passes with one map lookup per key instead of testing each one.
 */
export interface SelectorDefinition<K extends SelectorKind> {
  readonly kind: K;
  /** `identity` selectors cannot be decided before the caller has authenticated. */
  readonly reads: 'request' | 'identity';
  readonly pass: SelectorReason;
  readonly fail: SelectorReason;
  /** Facts the schema cannot check (CIDR syntax, glob shape); each error is located under `at`. */
  check?(value: SelectorValue<K>, at: string): FieldError[];
  /** The one stored form of a value (e.g. lower-case emails), so equal policies hash equally. */
  normalise?(value: SelectorValue<K>): SelectorValue<K>;
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
