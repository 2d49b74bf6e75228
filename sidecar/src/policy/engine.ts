import type { PolicyDecision } from '../api/access-policy.ts';
import type { Decision } from './decision.ts';
import type { PolicyInput } from './input.ts';
import type { DecisionReason } from './reasons.ts';
import { type RenderedPolicy, selectorKind } from './rendered-policy.ts';
import type { Matcher, SelectorDefinition } from './selector.ts';
import { SELECTORS } from './selectors/registry.ts';

const FAIL = 0;
const PASS = 1;
/** An identity selector asked before the caller has signed in. */
const UNKNOWN = 2;
type Tri = typeof FAIL | typeof PASS | typeof UNKNOWN;

/** A selector compiled once and shared by every policy that uses the same kind and value. */
interface CompiledSelector {
  readonly reads: 'request' | 'identity';
  readonly test: Matcher;
  readonly indexed: boolean;
}

/** A policy compiled to selector ids, with its possible decisions built in advance. */
interface CompiledPolicy {
  readonly id: number;
  readonly decision: PolicyDecision;
  readonly include: readonly number[];
  readonly require: readonly number[];
  readonly exclude: readonly number[];
  /** The decision when include[i] is the rule that matched. */
  readonly matched: readonly Decision[];
  readonly loginRequired: Decision;
  /** True when an include selector is not indexed, so the policy is always a candidate. */
  readonly alwaysCandidate: boolean;
  /** True when an include selector reads identity, so it is a candidate before sign-in. */
  readonly identityInclude: boolean;
}

/** Policies in evaluation order: bypass and service-auth first, then allow and deny, each in listed order. */
interface PolicyList {
  readonly early: readonly CompiledPolicy[];
  readonly ordered: readonly CompiledPolicy[];
  readonly byDefault: Decision;
}

/** The result of one evaluation: the enforced decision, and what audit policies would have decided. */
export interface Evaluation {
  readonly decision: Decision;
  /** The decision if the application's audit policies were enforced; null when it has none. */
  readonly audit: Decision | null;
}

/** Compiled policies of one application; evaluates a request in microseconds and explains it. */
export interface PolicyEngine {
  evaluate(input: PolicyInput): Evaluation;
  /** True when some enforced allow policy exists, so an unauthenticated user could sign in. */
  readonly offersLogin: boolean;
  /** True when some enforced service-auth policy exists, so machine callers are expected. */
  readonly acceptsMachines: boolean;
  readonly policyCount: number;
}

const deny = (reason: DecisionReason, policy: string | null = null): Decision =>
  Object.freeze({ action: 'deny', policy, rule: null, reason });

interface IndexedKind {
  readonly keysFor: (input: PolicyInput) => readonly string[];
  readonly ids: Map<string, number[]>;
}

class Compiler {
  readonly selectors: CompiledSelector[] = [];
  readonly includeOwners: number[][] = [];
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
    const index = definition.index as
      | { keysOf(v: unknown): readonly string[]; keysFor(i: PolicyInput): readonly string[] }
      | undefined;
    this.selectors.push({
      reads: definition.reads,
      test: (definition.compile as (v: unknown) => Matcher)(value),
      indexed: index !== undefined,
    });
    this.includeOwners.push([]);
    if (index) {
      let entry = this.indexed.get(kind);
      if (!entry) {
        entry = { keysFor: index.keysFor, ids: new Map() };
        this.indexed.set(kind, entry);
      }
      for (const k of index.keysOf(value)) {
        const ids = entry.ids.get(k);
        if (ids) ids.push(id);
        else entry.ids.set(k, [id]);
      }
    }
    this.byKey.set(key, id);
    return id;
  }

  policy(policy: RenderedPolicy, id: number): CompiledPolicy {
    const include = policy.include.map((s) => this.selector(s));
    const require = policy.require.map((s) => this.selector(s));
    const exclude = policy.exclude.map((s) => this.selector(s));
    for (const s of new Set(include)) this.includeOwners[s]?.push(id);
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
      alwaysCandidate: selectors.some((s) => !s.indexed),
      identityInclude: selectors.some((s) => s.reads === 'identity'),
    };
  }
}

function listOf(policies: readonly CompiledPolicy[]): PolicyList {
  return {
    early: policies.filter((p) => p.decision === 'bypass' || p.decision === 'service-auth'),
    ordered: policies.filter((p) => p.decision === 'allow' || p.decision === 'deny'),
    byDefault: deny(policies.length === 0 ? 'no_policies' : 'no_policy_matched'),
  };
}

/**
 * Compiles an application's ordered, validated policies. Identical selectors are compiled once;
 * set-like selectors (emails, groups, methods, ...) go into one index per kind, so a request
 * finds the selectors it passes with a map lookup per key and skips every policy none of whose
 * include selectors can match.
 */
export function compilePolicyEngine(policies: readonly RenderedPolicy[]): PolicyEngine {
  const compiler = new Compiler();
  const compiled = policies.map((p, i) => compiler.policy(p, i));
  const enforced = compiled.filter((p) => policies[p.id]?.mode === 'enforce');
  const hasAudit = enforced.length !== compiled.length;
  return new Evaluator(compiler, listOf(enforced), hasAudit ? listOf(compiled) : null, compiled.length);
}

class Evaluator implements PolicyEngine {
  private readonly selectors: readonly CompiledSelector[];
  private readonly includeOwners: readonly (readonly number[])[];
  private readonly indexed: readonly IndexedKind[];
  // Per-evaluation scratch, valid while `stamp` equals `epoch`; evaluation is synchronous.
  private readonly memoStamp: Uint32Array;
  private readonly memo: Uint8Array;
  private readonly passStamp: Uint32Array;
  private readonly candidateStamp: Uint32Array;
  private epoch = 0;
  private matchedInclude = 0;

  private readonly enforced: PolicyList;
  private readonly withAudit: PolicyList | null;
  readonly policyCount: number;
  readonly offersLogin: boolean;
  readonly acceptsMachines: boolean;

  constructor(compiler: Compiler, enforced: PolicyList, withAudit: PolicyList | null, policyCount: number) {
    this.enforced = enforced;
    this.withAudit = withAudit;
    this.policyCount = policyCount;
    this.offersLogin = enforced.ordered.some((p) => p.decision === 'allow');
    this.acceptsMachines = enforced.early.some((p) => p.decision === 'service-auth');
    this.selectors = compiler.selectors;
    this.includeOwners = compiler.includeOwners;
    this.indexed = [...compiler.indexed.values()];
    const n = compiler.selectors.length;
    this.memoStamp = new Uint32Array(n);
    this.memo = new Uint8Array(n);
    this.passStamp = new Uint32Array(n);
    this.candidateStamp = new Uint32Array(policyCount);
  }

  evaluate(input: PolicyInput): Evaluation {
    this.begin(input);
    const decision = this.decide(this.enforced, input);
    const audit = this.withAudit ? this.decide(this.withAudit, input) : null;
    return { decision, audit };
  }

  /** Starts an evaluation: marks the indexed selectors this request passes and their policies. */
  private begin(input: PolicyInput): void {
    if (this.epoch === 0xffffffff) {
      this.epoch = 0;
      this.memoStamp.fill(0);
      this.passStamp.fill(0);
      this.candidateStamp.fill(0);
    }
    const epoch = ++this.epoch;
    for (const kind of this.indexed) {
      for (const key of kind.keysFor(input)) {
        const ids = kind.ids.get(key);
        if (ids === undefined) continue;
        for (const id of ids) {
          this.passStamp[id] = epoch;
          for (const p of this.includeOwners[id] as readonly number[]) this.candidateStamp[p] = epoch;
        }
      }
    }
  }

  private result(id: number, input: PolicyInput): Tri {
    if (this.memoStamp[id] === this.epoch) return this.memo[id] as Tri;
    const s = this.selectors[id] as CompiledSelector;
    let r: Tri;
    if (s.reads === 'identity' && input.identity === null) r = UNKNOWN;
    else if (s.indexed) r = this.passStamp[id] === this.epoch ? PASS : FAIL;
    else r = s.test(input) ? PASS : FAIL;
    this.memoStamp[id] = this.epoch;
    this.memo[id] = r;
    return r;
  }

  /**
   * include any, require all, exclude none, in three-valued logic. Sets `matchedInclude` to the
   * include that passed (when the result is PASS).
   */
  private match(p: CompiledPolicy, input: PolicyInput): Tri {
    let state: Tri = FAIL;
    for (let i = 0; i < p.include.length; i++) {
      const r = this.result(p.include[i] as number, input);
      if (r === PASS) {
        state = PASS;
        this.matchedInclude = i;
        break;
      }
      if (r === UNKNOWN) state = UNKNOWN;
    }
    if (state === FAIL) return FAIL;
    for (const id of p.require) {
      const r = this.result(id, input);
      if (r === FAIL) return FAIL;
      if (r === UNKNOWN) state = UNKNOWN;
    }
    for (const id of p.exclude) {
      const r = this.result(id, input);
      if (r === PASS) return FAIL;
      if (r === UNKNOWN) state = UNKNOWN;
    }
    return state;
  }

  private candidate(p: CompiledPolicy, anonymous: boolean): boolean {
    return this.candidateStamp[p.id] === this.epoch || p.alwaysCandidate || (anonymous && p.identityInclude);
  }

  private decide(list: PolicyList, input: PolicyInput): Decision {
    const identity = input.identity;
    const anonymous = identity === null;
    const machine = identity !== null && identity.kind !== 'user';
    for (const p of list.early) {
      if (p.decision === 'service-auth' && !machine) continue;
      if (!this.candidate(p, anonymous)) continue;
      if (this.match(p, input) === PASS) return p.matched[this.matchedInclude] as Decision;
    }
    for (const p of list.ordered) {
      if (p.decision === 'allow' && machine) continue;
      if (!this.candidate(p, anonymous)) continue;
      const state = this.match(p, input);
      if (state === FAIL) continue;
      if (state === UNKNOWN || (anonymous && p.decision === 'allow')) return p.loginRequired;
      return p.matched[this.matchedInclude] as Decision;
    }
    return list.byDefault;
  }
}
