import type { SelectorKind } from '../../../contract/api/access-policy.ts';
import { type RenderedPolicy, selectorKind } from '../../../contract/config/rendered-policy.ts';
import { SELECTOR_RULES } from '../../../contract/policy/selector-rules.ts';
import type { PolicyInput } from './input.ts';
import { foldedInput, type PathCase, withPathsFolded } from './path-case.ts';
import type { SelectorReason } from './reasons.ts';
import type { Matcher } from './selector.ts';
import { SELECTORS } from './selectors/registry.ts';

/** How one selector came out for one request: `unknown` when it tests identity and there is none yet. */
export type Outcome = 'pass' | 'fail' | 'unknown';

export interface SelectorTrace {
  readonly rule: 'include' | 'require' | 'exclude';
  readonly index: number;
  readonly kind: SelectorKind;
  readonly outcome: Outcome;
  /** The selector's reason code; for `unknown`, `identity_unknown` (no credentials yet). */
  readonly reason: SelectorReason | 'identity_unknown';
}

export interface PolicyTrace {
  readonly name: string;
  readonly decision: RenderedPolicy['decision'];
  readonly mode: RenderedPolicy['mode'];
  /** False when the policy never applies to this kind of caller (allow to a machine, service-auth to a user). */
  readonly applies: boolean;
  /** include any, require all, exclude none, in three-valued logic. */
  readonly match: Outcome;
  readonly selectors: readonly SelectorTrace[];
}

const RULES = ['include', 'require', 'exclude'] as const;

/**
 * Every policy of an application and each of its selectors as they come out for one request, in
 * the order the engine looks at them for this caller: bypass (and, for a machine, service-auth)
 * first, then allow and deny, then those that never apply to it. An explanation for people
 * (`gatehouse explain`): the engine decides, with its indexes and memos, and this walks the
 * selectors one by one; the tests hold the two to the same answer.
 */
export function tracePolicies(
  policies: readonly RenderedPolicy[],
  request: PolicyInput,
  pathCase: PathCase = { caseInsensitive: false },
): PolicyTrace[] {
  const input = pathCase.caseInsensitive ? foldedInput(request) : request;
  const seen = pathCase.caseInsensitive ? withPathsFolded(policies) : policies;
  const caller = input.identity === null ? 'anonymous' : input.identity.kind === 'user' ? 'user' : 'machine';
  const traces = seen.map((policy) => tracePolicy(policy, input, appliesTo(policy.decision, caller)));
  const rank = (t: PolicyTrace): number => {
    if (!t.applies) return 2;
    const early = t.decision === 'bypass' || t.decision === 'service-auth';
    return early ? 0 : 1;
  };
  // Array.prototype.sort is stable: listed order within each rank.
  return traces.sort((a, b) => rank(a) - rank(b));
}

function appliesTo(decision: RenderedPolicy['decision'], caller: 'anonymous' | 'user' | 'machine'): boolean {
  if (decision === 'bypass' || decision === 'deny') return true;
  if (decision === 'allow') return caller !== 'machine';
  return caller === 'machine'; // service-auth
}

function tracePolicy(policy: RenderedPolicy, input: PolicyInput, applies: boolean): PolicyTrace {
  const selectors: SelectorTrace[] = [];
  for (const rule of RULES)
    policy[rule].forEach((selector, index) => {
      const kind = selectorKind(selector);
      selectors.push({ rule, index, kind, ...selectorOutcome(kind, selector[kind], input) });
    });
  const of = (rule: SelectorTrace['rule']) => selectors.filter((s) => s.rule === rule).map((s) => s.outcome);
  return {
    name: policy.name,
    decision: policy.decision,
    mode: policy.mode,
    applies,
    match: combine(of('include'), of('require'), of('exclude')),
    selectors,
  };
}

function selectorOutcome(
  kind: SelectorKind,
  value: unknown,
  input: PolicyInput,
): Pick<SelectorTrace, 'outcome' | 'reason'> {
  if (SELECTOR_RULES[kind].reads === 'identity' && input.identity === null)
    return { outcome: 'unknown', reason: 'identity_unknown' };
  const definition = SELECTORS[kind] as {
    compile(v: unknown): Matcher;
    pass: SelectorReason;
    fail: SelectorReason;
  };
  return definition.compile(value)(input)
    ? { outcome: 'pass', reason: definition.pass }
    : { outcome: 'fail', reason: definition.fail };
}

/** The engine's three-valued match: an include passes, every require passes, no exclude passes. */
function combine(include: Outcome[], require: Outcome[], exclude: Outcome[]): Outcome {
  let state: Outcome = include.includes('pass') ? 'pass' : include.includes('unknown') ? 'unknown' : 'fail';
  if (state === 'fail') return 'fail';
  for (const r of require) {
    if (r === 'fail') return 'fail';
    if (r === 'unknown') state = 'unknown';
  }
  for (const r of exclude) {
    if (r === 'pass') return 'fail';
    if (r === 'unknown') state = 'unknown';
  }
  return state;
}
