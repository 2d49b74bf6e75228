import type { SelectorKind } from '../../contract/api/access-policy.ts';
import { type RenderedPolicy, selectorKind } from '../../contract/config/rendered-policy.ts';
import { SELECTOR_RULES } from '../../contract/policy/selector-rules.ts';
import type { Decision } from '../../sidecar/src/policy/decision.ts';
import type { PolicyInput } from '../../sidecar/src/policy/input.ts';
import type { SelectorDefinition } from '../../sidecar/src/policy/selector.ts';
import { SELECTORS } from '../../sidecar/src/policy/selectors/registry.ts';

/** A selector's outcome in the documented three-valued logic. */
export type Outcome = 'pass' | 'fail' | 'unknown';

/** One selector, straight from its module: no index, no memo, no candidate skipping. */
export function selectorOutcome(selector: RenderedPolicy['include'][number], input: PolicyInput): Outcome {
  const kind = selectorKind(selector);
  const definition = SELECTORS[kind] as SelectorDefinition<SelectorKind>;
  if (SELECTOR_RULES[kind].reads === 'identity' && input.identity === null) return 'unknown';
  return definition.compile(selector[kind] as never)(input) ? 'pass' : 'fail';
}

/** include any, require all, exclude none, as the policy reference states it. */
export function policyOutcome(policy: RenderedPolicy, input: PolicyInput): Outcome {
  const inc = policy.include.map((s) => selectorOutcome(s, input));
  const req = policy.require.map((s) => selectorOutcome(s, input));
  const exc = policy.exclude.map((s) => selectorOutcome(s, input));
  if (!inc.includes('pass') && !inc.includes('unknown')) return 'fail';
  if (req.includes('fail')) return 'fail';
  if (exc.includes('pass')) return 'fail';
  if (inc.includes('pass') && !req.includes('unknown') && !exc.includes('unknown')) return 'pass';
  return 'unknown';
}

function matched(policy: RenderedPolicy, input: PolicyInput): Decision {
  const i = policy.include.findIndex((s) => selectorOutcome(s, input) === 'pass');
  const kind = selectorKind(policy.include[i] as RenderedPolicy['include'][number]);
  return {
    action: policy.decision,
    policy: policy.name,
    rule: `include[${i}].${kind}`,
    reason: SELECTORS[kind].pass,
  };
}

/**
 * The decision the policy reference describes, computed the slow, obvious way: bypass and
 * service-auth first in listed order, then allow and deny in listed order, first match wins,
 * deny by default; audit policies are ignored unless `withAudit`.
 */
export function oracleDecision(
  policies: readonly RenderedPolicy[],
  input: PolicyInput,
  withAudit = false,
): Decision {
  const active = policies.filter((p) => withAudit || p.mode === 'enforce');
  const id = input.identity;
  const machine = id !== null && id.kind !== 'user';
  for (const p of active) {
    if (p.decision !== 'bypass' && p.decision !== 'service-auth') continue;
    if (p.decision === 'service-auth' && !machine) continue;
    if (policyOutcome(p, input) === 'pass') return matched(p, input);
  }
  for (const p of active) {
    if (p.decision !== 'allow' && p.decision !== 'deny') continue;
    if (p.decision === 'allow' && machine) continue;
    const outcome = policyOutcome(p, input);
    if (outcome === 'fail') continue;
    if (outcome === 'unknown' || (id === null && p.decision === 'allow'))
      return { action: 'deny', policy: p.name, rule: null, reason: 'login_required' };
    return matched(p, input);
  }
  return {
    action: 'deny',
    policy: null,
    rule: null,
    reason: active.length === 0 ? 'no_policies' : 'no_policy_matched',
  };
}
