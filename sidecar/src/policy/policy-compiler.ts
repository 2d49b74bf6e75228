import type { PolicyDecision, SelectorKind } from '../../../contract/api/access-policy.ts';
import { type RenderedPolicy, selectorKind } from '../../../contract/config/rendered-policy.ts';
import { SELECTOR_RULES } from '../../../contract/policy/selector-rules.ts';
import type { Decision } from './decision.ts';
import type { PolicyInput } from './input.ts';
import type { DecisionReason } from './reasons.ts';
import type { Matcher, SelectorDefinition } from './selector.ts';
import { SELECTORS } from './selectors/registry.ts';

/** A selector compiled once and shared by every policy that uses the same kind and value. */
export interface CompiledSelector {
  readonly kind: SelectorKind;
  readonly reads: 'request' | 'identity';
  readonly test: Matcher;
  readonly indexed: boolean;
}

/** A policy compiled to selector ids, with its possible decisions built in advance. */
export interface CompiledPolicy {
  readonly id: number;
  readonly decision: PolicyDecision;
  readonly include: readonly number[];
  readonly require: readonly number[];
  readonly exclude: readonly number[];
  /** The decision when include[i] is the rule that matched. */
  readonly matched: readonly Decision[];
  readonly loginRequired: Decision;
  /** True when its drivers cannot rule it out in advance, so the policy is always a candidate. */
  readonly alwaysCandidate: boolean;
  /** True when it must be looked at for anonymous requests (its outcome may be unknown). */
  readonly anonymousCandidate: boolean;
  /** The distinct indexed selectors `require` lists: all must be marked passing for a known caller. */
  readonly indexedRequire: Int32Array;
  /** False for audit-mode policies. */
  readonly enforced: boolean;
}

/** A bit set over policy ids (ids follow the listed order) with the given ones set. */
export function bitsOf(count: number, ids: Iterable<number>): Uint32Array {
  const bits = new Uint32Array(Math.ceil(count / 32));
  for (const id of ids) bits[id >>> 5] = (bits[id >>> 5] as number) | (1 << (id & 31));
  return bits;
}

/** A deny decision with no deciding rule (deny by default, or sign-in needed first). */
export const deny = (reason: DecisionReason, policy: string | null = null): Decision =>
  Object.freeze({ action: 'deny', policy, rule: null, reason });

/** How rarely a selector of each indexed kind tends to pass (lower is rarer); picks policy drivers. */
const SELECTIVITY: Readonly<Record<SelectorKind, number>> = {
  emails: 1,
  serviceTokens: 1,
  groups: 2,
  emailDomains: 3,
  ipRanges: 3,
  privateEndpoints: 2,
  claim: 4,
  signedInWithin: 9,
  acrValues: 7,
  identityProviders: 5,
  methods: 6,
  everyone: 9,
  authenticated: 9,
  anyServiceToken: 9,
  serviceAccounts: 9,
  paths: 9,
};

/** One indexed selector kind: how a request's keys are found, and what each key passes. */
export interface IndexedKind {
  keysFor: (input: PolicyInput) => readonly string[];
  readonly values: unknown[];
  readonly ids: Map<string, number[]>;
  /** Built by `finish`: per key, the selectors it passes and the policies those selectors drive. */
  table: Map<string, KeyEntry>;
}

interface KeyEntry {
  readonly selectors: Int32Array;
  readonly policies: Int32Array;
}

type AnyIndex = {
  keysOf(value: unknown): readonly string[];
  requestKeys(values: readonly unknown[]): (input: PolicyInput) => readonly string[];
};

/** Turns rendered policies into selector ids, shared compiled selectors and per-kind key tables. */
export class Compiler {
  readonly selectors: CompiledSelector[] = [];
  /** For each selector, the policies it drives: they are candidates when it passes. */
  readonly driven: number[][] = [];
  readonly indexed = new Map<string, IndexedKind>();
  private readonly byKey = new Map<string, number>();

  selector(selector: RenderedPolicy['include'][number]): number {
    const kind = selectorKind(selector);
    const value = selector[kind];
    const key = `${kind}\0${JSON.stringify(value)}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const definition = SELECTORS[kind] as SelectorDefinition<typeof kind>;
    const id = this.selectors.length;
    const index = definition.index as AnyIndex | undefined;
    this.selectors.push({
      kind,
      reads: SELECTOR_RULES[kind].reads,
      test: (definition.compile as (v: unknown) => Matcher)(value),
      indexed: index !== undefined,
    });
    this.driven.push([]);
    if (index) {
      let entry = this.indexed.get(kind);
      if (!entry) {
        entry = { keysFor: () => [], values: [], ids: new Map(), table: new Map() };
        this.indexed.set(kind, entry);
      }
      entry.values.push(value);
      for (const k of index.keysOf(value)) {
        const ids = entry.ids.get(k);
        if (ids) ids.push(id);
        else entry.ids.set(k, [id]);
      }
    }
    this.byKey.set(key, id);
    return id;
  }

  /** Builds each indexed kind's request-key function from every value of that kind in use. */
  finish(): void {
    for (const [kind, entry] of this.indexed) {
      entry.keysFor = (SELECTORS[kind as keyof typeof SELECTORS].index as AnyIndex).requestKeys(entry.values);
      for (const [key, ids] of entry.ids) {
        const policies = new Set(ids.flatMap((id) => this.driven[id] ?? []));
        entry.table.set(key, { selectors: Int32Array.from(ids), policies: Int32Array.from(policies) });
      }
    }
  }

  /**
   * The selectors whose passing makes a policy worth looking at: all of its includes (one must
   * pass), or a single indexed require (it must pass), whichever is expected to pass less often.
   * Undefined when neither is possible (an include is not indexed and no require is).
   */
  private drivers(include: readonly number[], indexedRequire: readonly number[]): number[] | undefined {
    const rank = (s: number) => SELECTIVITY[(this.selectors[s] as CompiledSelector).kind];
    const includeIndexed = include.every((s) => this.selectors[s]?.indexed);
    const includeScore = includeIndexed ? include.reduce((sum, s) => sum + rank(s), 0) : Infinity;
    const best = [...indexedRequire].sort((a, b) => rank(a) - rank(b))[0];
    if (best !== undefined && rank(best) < includeScore) return [best];
    return includeIndexed ? [...new Set(include)] : undefined;
  }

  policy(policy: RenderedPolicy, id: number): CompiledPolicy {
    const include = policy.include.map((s) => this.selector(s));
    const require = policy.require.map((s) => this.selector(s));
    const exclude = policy.exclude.map((s) => this.selector(s));
    const indexedRequire = [...new Set(require)].filter((s) => this.selectors[s]?.indexed);
    const drivers = this.drivers(include, indexedRequire);
    for (const s of drivers ?? []) this.driven[s]?.push(id);
    const matched = policy.include.map((s, i) => {
      const kind = selectorKind(s);
      return Object.freeze({
        action: policy.decision,
        policy: policy.name,
        rule: `include[${i}].${kind}`,
        reason: SELECTORS[kind].pass,
      });
    });
    const selectors = include.map((s) => this.selectors[s] as CompiledSelector);
    return {
      id,
      decision: policy.decision,
      include,
      require,
      exclude,
      matched,
      loginRequired: deny('login_required', policy.name),
      alwaysCandidate: drivers === undefined,
      anonymousCandidate:
        drivers === undefined ||
        selectors.some((s) => s.reads === 'identity') ||
        drivers.some((d) => this.selectors[d]?.reads === 'identity'),
      indexedRequire: Int32Array.from(indexedRequire),
      enforced: policy.mode === 'enforce',
    };
  }
}
