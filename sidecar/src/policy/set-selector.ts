import type { SelectorKind } from '../../../contract/api/access-policy.ts';
import type { PolicyInput } from './input.ts';
import type { SelectorReason } from './reasons.ts';
import type { SelectorDefinition, SelectorValue } from './selector.ts';

/** The keys of a request that has none for a selector (shared: no allocation per request). */
export const NO_KEYS: readonly string[] = Object.freeze([]);

/** Selector kinds whose value is a list of strings. */
type ListKind = { [K in SelectorKind]: SelectorValue<K> extends string[] ? K : never }[SelectorKind];

/** What makes one set-like selector different from the others. */
export interface SetSelectorSpec<K extends ListKind> {
  readonly kind: K;
  readonly pass: SelectorReason;
  readonly fail: SelectorReason;
  /** The request's keys (e.g. the caller's groups); the selector passes when one is listed. */
  readonly keysFor: (input: PolicyInput) => readonly string[];
}

/**
 * Builds a set-like selector (emails, groups, methods, ...): it passes when one of the
 * request's keys is listed. Its matcher and its index keys are the same set, so they agree.
 */
export function setSelector<K extends ListKind>(spec: SetSelectorSpec<K>): SelectorDefinition<K> {
  const { keysFor } = spec;
  const definition: SelectorDefinition<ListKind> = {
    kind: spec.kind,
    pass: spec.pass,
    fail: spec.fail,
    compile(value) {
      const listed = new Set<string>(value);
      return (input) => keysFor(input).some((key) => listed.has(key));
    },
    index: { keysOf: (value) => value, requestKeys: () => keysFor },
  };
  return definition as unknown as SelectorDefinition<K>;
}
