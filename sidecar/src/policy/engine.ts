import type { RenderedPolicy } from '../../../contract/config/rendered-policy.ts';
import { signInWindowSeconds } from '../../../contract/policy/selector-rules.ts';
import type { Decision } from './decision.ts';
import type { PolicyInput } from './input.ts';
import { foldedInput, type PathCase, withPathsFolded } from './path-case.ts';
import {
  bitsOf,
  type CompiledPolicy,
  type CompiledSelector,
  Compiler,
  deny,
  type IndexedKind,
} from './policy-compiler.ts';

const FAIL = 0;
const PASS = 1;
/** An identity selector asked before the caller has signed in. */
const UNKNOWN = 2;
type Tri = typeof FAIL | typeof PASS | typeof UNKNOWN;

/** Who is asking decides which policies can apply at all. */
const ANONYMOUS = 0;
const USER = 1;
const MACHINE = 2;

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
  /**
   * The shortest `signedInWithin` of the application's enforced policies, in seconds (the
   * `max_age` of a sign-in that satisfies them all); null when none has one.
   */
  readonly signInWindow: number | null;
  /**
   * Every `signedInWithin` of the enforced policies, in seconds, shortest first, each once: the
   * ages of an authentication at which their verdict on a request may change.
   */
  readonly signInWindows: readonly number[];
  /**
   * True when the policy (by name) has a `signedInWithin` selector and is enforced: a sign-in it
   * asks for (`login_required` at it) should ask the provider for a recent authentication too.
   */
  asksRecentSignIn(policy: string | null): boolean;
  /**
   * Every `acrValues` value of the enforced policies, each once, in the order first listed: the
   * classes of sign-in a user may be sent to the provider for (step-up authentication).
   */
  readonly acrValues: readonly string[];
  /**
   * The classes an enforced policy (by name) takes, from the `acrValues` of its include and
   * require, each once: a first sign-in it asks for (`login_required` at it) asks the provider
   * for one of them, so that one sign-in lets the user in. Empty for any other policy.
   */
  acrValuesOf(policy: string | null): readonly string[];
}

/**
 * Compiles an application's ordered, validated policies. Identical selectors are compiled once;
 * set-like selectors (emails, groups, IP ranges, ...) go into one index per kind, so a request
 * finds the selectors it passes with a map lookup per key and only looks at the policies one of
 * whose include selectors can pass.
 */
export function compilePolicyEngine(
  policies: readonly RenderedPolicy[],
  pathCase: PathCase = { caseInsensitive: false },
): PolicyEngine {
  const compiler = new Compiler();
  const seen = pathCase.caseInsensitive ? withPathsFolded(policies) : policies;
  const compiled = seen.map((p, i) => compiler.policy(p, i));
  compiler.finish();
  const recent = recentSignInPolicies(policies);
  const engine = new Evaluator(compiler, compiled, recent, signInWindowsOf(policies), acrClassesOf(policies));
  if (!pathCase.caseInsensitive) return engine;
  // The request's path folded as the globs are; only applications that ask pay for the copy.
  return {
    evaluate: (input) => engine.evaluate(foldedInput(input)),
    offersLogin: engine.offersLogin,
    acceptsMachines: engine.acceptsMachines,
    signInWindow: engine.signInWindow,
    signInWindows: engine.signInWindows,
    asksRecentSignIn: (policy) => engine.asksRecentSignIn(policy),
    acrValues: engine.acrValues,
    acrValuesOf: (policy) => engine.acrValuesOf(policy),
  };
}

/**
 * The `signedInWithin` of each enforced policy that has one (its shortest, in seconds), by name.
 * An audit policy's window only shows in `auditDecision`: it never sends anyone to sign in.
 */
function recentSignInPolicies(policies: readonly RenderedPolicy[]): ReadonlyMap<string, number> {
  const windows = new Map<string, number>();
  for (const policy of policies)
    if (policy.mode === 'enforce')
      for (const selector of [...policy.include, ...policy.require, ...policy.exclude]) {
        const window =
          selector.signedInWithin === undefined ? undefined : signInWindowSeconds(selector.signedInWithin);
        const known = windows.get(policy.name);
        if (window !== undefined && (known === undefined || window < known)) windows.set(policy.name, window);
      }
  return windows;
}

/** Every `signedInWithin` of the enforced policies, in seconds, shortest first, each once. */
function signInWindowsOf(policies: readonly RenderedPolicy[]): readonly number[] {
  const windows = new Set<number>();
  for (const policy of policies)
    if (policy.mode === 'enforce')
      for (const selector of [...policy.include, ...policy.require, ...policy.exclude])
        if (selector.signedInWithin !== undefined)
          windows.add(signInWindowSeconds(selector.signedInWithin) as number);
  return Object.freeze([...windows].sort((a, b) => a - b));
}

/** The classes of sign-in the enforced policies list (see PolicyEngine.acrValues, acrValuesOf). */
interface AcrClasses {
  /** Every one, each once, in the order first listed (an exclude's too: a deny unless one). */
  readonly all: readonly string[];
  /** Those each policy takes, from its include and require, by policy name. */
  readonly byPolicy: ReadonlyMap<string, readonly string[]>;
}

const NO_ACR: readonly string[] = Object.freeze([]);

function acrClassesOf(policies: readonly RenderedPolicy[]): AcrClasses {
  const all = new Set<string>();
  const byPolicy = new Map<string, readonly string[]>();
  for (const policy of policies) {
    if (policy.mode !== 'enforce') continue;
    const taken = new Set<string>();
    for (const selector of [...policy.include, ...policy.require])
      for (const value of selector.acrValues ?? []) {
        taken.add(value);
        all.add(value);
      }
    for (const selector of policy.exclude) for (const value of selector.acrValues ?? []) all.add(value);
    if (taken.size > 0) byPolicy.set(policy.name, Object.freeze([...taken]));
  }
  return { all: Object.freeze([...all]), byPolicy };
}

class Evaluator implements PolicyEngine {
  readonly offersLogin: boolean;
  readonly acceptsMachines: boolean;
  readonly signInWindow: number | null;
  readonly signInWindows: readonly number[];
  readonly acrValues: readonly string[];
  private readonly policyAcr: ReadonlyMap<string, readonly string[]>;
  private readonly recentSignIn: ReadonlyMap<string, number>;
  private readonly selectors: readonly CompiledSelector[];
  private readonly indexed: readonly IndexedKind[];
  private readonly policies: readonly CompiledPolicy[];
  private readonly hasAudit: boolean;
  private readonly enforcedByDefault: Decision;
  private readonly auditByDefault: Decision;
  /** By caller class: the policies looked at first (bypass, service-auth) and then (allow, deny). */
  private readonly early: readonly Uint32Array[];
  private readonly ordered: readonly Uint32Array[];
  /** Candidates for every request (an include is not indexed), and for anonymous ones. */
  private readonly alwaysCandidates: Uint32Array;
  private readonly anonymousCandidates: Uint32Array;
  // Per-evaluation scratch; evaluation is synchronous, so one set per engine is enough.
  /** Policies one of whose includes may pass for this request; rebuilt by `begin`. */
  private readonly candidates: Uint32Array;
  private readonly memoStamp: Uint32Array;
  private readonly memo: Uint8Array;
  private readonly passStamp: Uint32Array;
  private epoch = 0;
  private matchedInclude = 0;
  private decided: Decision | null = null;
  private audited: Decision | null = null;

  constructor(
    compiler: Compiler,
    policies: readonly CompiledPolicy[],
    recentSignIn: ReadonlyMap<string, number>,
    signInWindows: readonly number[],
    acr: AcrClasses,
  ) {
    this.recentSignIn = recentSignIn;
    this.acrValues = acr.all;
    this.policyAcr = acr.byPolicy;
    this.signInWindow = recentSignIn.size === 0 ? null : Math.min(...recentSignIn.values());
    this.signInWindows = signInWindows;
    const n = policies.length;
    const ids = (test: (p: CompiledPolicy) => boolean) => policies.filter(test).map((p) => p.id);
    const enforced = policies.filter((p) => p.enforced);
    this.offersLogin = enforced.some((p) => p.decision === 'allow');
    this.acceptsMachines = enforced.some((p) => p.decision === 'service-auth');
    this.selectors = compiler.selectors;
    this.indexed = [...compiler.indexed.values()];
    this.policies = policies;
    this.hasAudit = enforced.length !== n;
    this.enforcedByDefault = deny(enforced.length === 0 ? 'no_policies' : 'no_policy_matched');
    this.auditByDefault = deny(n === 0 ? 'no_policies' : 'no_policy_matched');
    const bypass = ids((p) => p.decision === 'bypass');
    const machineEarly = ids((p) => p.decision === 'bypass' || p.decision === 'service-auth');
    const userOrdered = ids((p) => p.decision === 'allow' || p.decision === 'deny');
    const machineOrdered = ids((p) => p.decision === 'deny');
    this.early = [bitsOf(n, bypass), bitsOf(n, bypass), bitsOf(n, machineEarly)];
    this.ordered = [bitsOf(n, userOrdered), bitsOf(n, userOrdered), bitsOf(n, machineOrdered)];
    this.alwaysCandidates = bitsOf(
      n,
      ids((p) => p.alwaysCandidate),
    );
    this.anonymousCandidates = bitsOf(
      n,
      ids((p) => p.anonymousCandidate),
    );
    this.candidates = new Uint32Array(this.alwaysCandidates.length);
    const s = compiler.selectors.length;
    this.memoStamp = new Uint32Array(s);
    this.memo = new Uint8Array(s);
    this.passStamp = new Uint32Array(s);
  }

  asksRecentSignIn(policy: string | null): boolean {
    return policy !== null && this.recentSignIn.has(policy);
  }

  acrValuesOf(policy: string | null): readonly string[] {
    return (policy === null ? undefined : this.policyAcr.get(policy)) ?? NO_ACR;
  }

  /**
   * One pass over the candidates in precedence order decides both the enforced decision (audit
   * policies skipped) and, when there are audit policies, the decision with them enforced.
   */
  evaluate(input: PolicyInput): Evaluation {
    this.begin(input);
    const identity = input.identity;
    const caller = identity === null ? ANONYMOUS : identity.kind === 'user' ? USER : MACHINE;
    this.decided = null;
    this.audited = null;
    this.scan(this.early[caller] as Uint32Array, input, true);
    if (this.decided === null) this.scan(this.ordered[caller] as Uint32Array, input, false);
    const decision = this.decided ?? this.enforcedByDefault;
    const audit = this.hasAudit ? (this.audited ?? this.auditByDefault) : null;
    return { decision, audit };
  }

  /** Walks the candidate policies of `set` in listed order until the enforced decision is made. */
  private scan(set: Uint32Array, input: PolicyInput, early: boolean): void {
    const candidates = this.candidates;
    const anonymous = input.identity === null;
    for (let w = 0; w < set.length; w++) {
      let bits = (set[w] as number) & (candidates[w] as number);
      while (bits !== 0) {
        const low = bits & -bits;
        bits ^= low;
        const p = this.policies[(w << 5) + 31 - Math.clz32(low)] as CompiledPolicy;
        if (!this.requiresMet(p, anonymous)) continue;
        const state = this.match(p, input);
        if (state === FAIL || (early && state !== PASS)) continue;
        const decision =
          state === UNKNOWN || (anonymous && p.decision === 'allow')
            ? p.loginRequired
            : (p.matched[this.matchedInclude] as Decision);
        this.audited ??= decision;
        if (p.enforced) {
          this.decided = decision;
          return;
        }
      }
    }
  }

  /** Starts an evaluation: marks the indexed selectors this request passes and the policies including them. */
  private begin(input: PolicyInput): void {
    if (this.epoch === 0xffffffff) {
      this.epoch = 0;
      this.memoStamp.fill(0);
      this.passStamp.fill(0);
    }
    const epoch = ++this.epoch;
    const candidates = this.candidates;
    candidates.set(input.identity === null ? this.anonymousCandidates : this.alwaysCandidates);
    const passStamp = this.passStamp;
    for (const kind of this.indexed) {
      for (const key of kind.keysFor(input)) {
        const entry = kind.table.get(key);
        if (entry === undefined) continue;
        const { selectors, policies } = entry;
        for (let i = 0; i < selectors.length; i++) passStamp[selectors[i] as number] = epoch;
        for (let i = 0; i < policies.length; i++) {
          const p = policies[i] as number;
          candidates[p >>> 5] = (candidates[p >>> 5] as number) | (1 << (p & 31));
        }
      }
    }
  }

  /** For a known caller (whose indexed selectors cannot be unknown), every indexed require must have passed. */
  private requiresMet(p: CompiledPolicy, anonymous: boolean): boolean {
    if (anonymous) return true;
    const ids = p.indexedRequire;
    for (let i = 0; i < ids.length; i++) if (this.passStamp[ids[i] as number] !== this.epoch) return false;
    return true;
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
}
