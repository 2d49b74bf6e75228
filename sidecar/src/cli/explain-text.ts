/** The text `gatehouse explain` writes for a person (its JSON is the same facts as they are). */
import type { Decision } from '../policy/decision.ts';
import type { PolicyIdentity } from '../policy/input.ts';
import type { PathCase } from '../policy/path-case.ts';
import type { PolicyTrace } from '../policy/policy-trace.ts';
import type { ClientAddress } from './explain-client-address.ts';
import type { ExplainFlags } from './explain-flags.ts';

/** What the client gets for a decision, as the sidecar's authorize stage answers. */
export interface Answer {
  readonly forwarded: boolean;
  readonly status: number | null;
  readonly error: string | null;
  readonly says: string;
}

const IMPLICIT_CLAIMS: ReadonlySet<string> = new Set(['sub', 'email', 'email_verified']);

function callerText(identity: PolicyIdentity | null): string {
  if (identity === null) return 'a caller without credentials';
  if (identity.kind === 'service-token') return `service token ${identity.serviceTokenId}`;
  if (identity.kind === 'service-account')
    return `ServiceAccount ${identity.serviceAccount?.namespace}/${identity.serviceAccount?.name}`;
  const facts = [
    identity.groups.length > 0 ? `groups ${identity.groups.join(', ')}` : 'no groups',
    `via ${identity.idp}`,
    // The claims given; those every session has (sub, email) go without saying.
    ...Object.keys(identity.claims)
      .filter((name) => !IMPLICIT_CLAIMS.has(name))
      .map((name) => `claim ${name}`),
    ...(identity.authTime !== undefined
      ? [`authenticated ${Math.max(0, Math.floor(Date.now() / 1000) - identity.authTime)} s ago`]
      : []),
  ];
  return `${identity.email ?? `subject ${identity.sub}`} (${facts.join('; ')})`;
}

function decisionText(decision: Decision): string {
  if (decision.policy === null) return `${decision.action}, by default (${decision.reason})`;
  return `${decision.action}, by policy ${decision.policy}${decision.rule ? ` at ${decision.rule}` : ''} (${decision.reason})`;
}

/** The explanation for a person: the request, the decision, what the client gets, every selector. */
export function explanationText(
  flags: ExplainFlags & { readonly clientAddress?: ClientAddress },
  path: string,
  identity: PolicyIdentity | null,
  decision: Decision,
  audit: Decision | null,
  answer: Answer,
  policies: readonly PolicyTrace[],
  pathCase: PathCase,
): string {
  const lines = [
    `${flags.method} ${flags.target}${path !== flags.target.split('?')[0] ? ` (read as ${path})` : ''} from ${flags.ip ?? 'any address'}${flags.privateEndpoint ? ` through ${flags.privateEndpoint}` : ''}, by ${callerText(identity)}`,
    ...(flags.clientAddress
      ? [`Client address ${flags.clientAddress.clientIp}: ${flags.clientAddress.says}.`]
      : []),
    `Decision  ${decisionText(decision)}`,
    `The request ${answer.says}.`,
  ];
  if (pathCase.caseInsensitive)
    lines.push('Paths are compared without regard to case (spec.upstream.caseInsensitivePaths).');
  if (audit !== null && (audit.action !== decision.action || audit.policy !== decision.policy))
    lines.push(`With the audit policies enforced: ${decisionText(audit)}.`);
  lines.push('', 'Policies, in the order the sidecar looks at them:');
  const width = Math.max(...policies.map((p) => p.name.length), 6);
  for (const p of policies) {
    const marks = [
      p.mode === 'audit' ? 'audit' : '',
      !p.applies
        ? `never applies to ${identity === null ? 'a caller without credentials' : identity.kind === 'user' ? 'a user' : 'a machine caller'}`
        : '',
      p.name === decision.policy ? '\u2190 decides' : '',
      audit !== null && p.name === audit.policy && p.name !== decision.policy
        ? '\u2190 would decide (audit)'
        : '',
    ].filter(Boolean);
    lines.push(
      `  ${p.name.padEnd(width)}  ${p.decision.padEnd(12)}  ${matchText(p.match).padEnd(9)}  ${marks.join(', ')}`.trimEnd(),
    );
    for (const s of p.selectors)
      lines.push(
        `      ${`${s.rule}[${s.index}].${s.kind}`.padEnd(width + 12)}  ${s.outcome.padEnd(7)}  ${s.reason}`,
      );
  }
  if (policies.length === 0) lines.push('  (none: every request is refused)');
  return `${lines.join('\n')}\n`;
}

function matchText(match: PolicyTrace['match']): string {
  return match === 'pass' ? 'match' : match === 'fail' ? 'no match' : 'unknown';
}
