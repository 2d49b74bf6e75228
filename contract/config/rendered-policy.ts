import Type, { type Static } from 'typebox';
import { POLICY_DECISIONS, POLICY_MODES, Selector, type SelectorKind } from '../api/access-policy.ts';
import { StringEnum } from '../api/schema-helpers.ts';
import type { FieldError } from '../errors.ts';
import { SELECTOR_RULES } from '../policy/selector-rules.ts';

/** A policy as the sidecar receives it: resolved, ordered, with normalised selector values. */
export const RenderedPolicySchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 317,
      description: '`namespace/name` or `name` of the policy.',
    }),
    decision: StringEnum(POLICY_DECISIONS, { description: 'What a match means.' }),
    mode: StringEnum(POLICY_MODES, { description: 'enforce or audit.' }),
    include: Type.Array(Selector, { minItems: 1, description: 'Any must match.' }),
    require: Type.Array(Selector, { description: 'All must match.' }),
    exclude: Type.Array(Selector, { description: 'None may match.' }),
  },
  { additionalProperties: false, description: 'One rendered policy.' },
);

export type RenderedPolicy = Static<typeof RenderedPolicySchema>;

const RULES = ['include', 'require', 'exclude'] as const;

/** The kind of a selector object (its one field). */
export function selectorKind(selector: Selector): SelectorKind {
  return Object.keys(selector)[0] as SelectorKind;
}

function selectorErrors(selector: Selector, at: string): FieldError[] {
  const kind = selectorKind(selector);
  const rule = SELECTOR_RULES[kind] as { check?: (v: unknown, at: string) => FieldError[] };
  return rule.check?.(selector[kind], `${at}.${kind}`) ?? [];
}

function decisionErrors(
  policy: Pick<RenderedPolicy, 'decision' | 'include' | 'require'>,
  at: (field: string) => string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const rule of ['include', 'require'] as const) {
    policy[rule].forEach((selector, i) => {
      const kind = selectorKind(selector);
      const path = at(`${rule}[${i}].${kind}`);
      if (policy.decision === 'bypass' && SELECTOR_RULES[kind].reads === 'identity')
        errors.push({
          path,
          message:
            'a bypass policy cannot test identity (a bypassed request has none); use everyone, ipRanges, paths or methods',
        });
      if (policy.decision === 'allow' && SELECTOR_RULES[kind].callers === 'machine')
        errors.push({
          path,
          message:
            'never matches in an allow policy (allow is for signed-in users); use decision service-auth',
        });
      if (policy.decision === 'service-auth' && SELECTOR_RULES[kind].callers === 'user')
        errors.push({
          path,
          message: 'never matches in a service-auth policy (machine callers have no such attribute)',
        });
    });
  }
  return errors;
}

/**
 * Every problem of one policy that the schema cannot see: selector values (CIDRs, globs, email
 * addresses) and selectors that can never match under the policy's decision. No side effects.
 */
export function policyErrors(
  policy: Pick<RenderedPolicy, 'decision' | 'include' | 'require' | 'exclude'>,
  at: (field: string) => string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const rule of RULES) {
    policy[rule].forEach((selector, i) => {
      errors.push(...selectorErrors(selector, at(`${rule}[${i}]`)));
    });
  }
  errors.push(...decisionErrors(policy, at));
  return errors;
}

/** The one stored form of a selector: its value normalised (e.g. lower-case emails, no duplicates). */
export function normaliseSelector(selector: Selector): Selector {
  const kind = selectorKind(selector);
  const rule = SELECTOR_RULES[kind] as { normalise?: (v: unknown) => unknown };
  const value = selector[kind];
  return { [kind]: rule.normalise ? rule.normalise(value) : value } as Selector;
}
