import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError, configErrorReport } from '../../../contract/errors.ts';
import { canonicalizeTarget } from '../../../contract/policy/canonical-path.ts';
import { UsageError } from '../../../lib/args.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { compileHostMatcher, normaliseHost } from '../../../lib/net/host.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../auth/machine-identity.ts';
import { processKeys } from '../auth/process-keys.ts';
import { readSnapshot } from '../config/config-files.ts';
import { configFromSnapshot } from '../config/load-application.ts';
import type { Decision } from '../policy/decision.ts';
import { compilePolicyEngine } from '../policy/engine.ts';
import type { PolicyIdentity, PolicyInput } from '../policy/input.ts';
import { type PolicyTrace, tracePolicies } from '../policy/policy-trace.ts';

export const EXPLAIN_USAGE = `Usage: gatehouse explain <file|dir> --path <path> [caller] [options]

Decides one request the way the sidecar does, with the application's policies as the files hold
them (the YAML you apply with kubectl, or a standalone sidecar's config), and says why: the
decision, the policy and selector that made it, what the client gets, and how every selector of
every policy came out, in the order the sidecar looks at them. Nothing is sent anywhere.

Request:
  --path <path>              the request target, with its query (e.g. /admin/users?id=7); it is
                             read as the sidecar reads it (dot segments, encoded slashes, ...)
  --method <method>          default GET
  --host <host>              the Host header (default: not checked); one the application does not
                             serve is refused 421 before any policy
  --ip <address>             the client address the policies see (needed when a policy tests
                             ipRanges)
  --navigation               a browser's page navigation: a refusal that a sign-in could change
                             is a redirect to sign in instead of 401

Caller (none of these: a request without credentials):
  --email <address>          a signed-in user with this (verified) email
  --sub <subject>            the user's subject (default: the email)
  --groups <a,b,...>         the user's groups; repeatable
  --idp <name>               the identity provider the user signed in with (default: the
                             application's only one)
  --claim <name>=<value>     a claim of the user's ID token (the value read as JSON when it is
                             JSON, else as text); repeatable
  --service-token <id>       a caller with this service token of the application
  --service-account <namespace/name>  a Kubernetes ServiceAccount

Options:
  --application <name>       the AccessApplication when the files hold several
  --format <format>          text (default) or json
  -o, --output <file>        write the answer to a file instead of standard output

Exit status: 0 the request goes to the application; 1 it is refused; 2 a usage error; 3 the
config is invalid (its errors are printed as gatehouse validate prints them).
`;

type Caller =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly email: string | null;
      readonly sub: string;
      readonly groups: readonly string[];
      readonly idp: string | null;
      readonly claims: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'service-token'; readonly id: string }
  | { readonly kind: 'service-account'; readonly namespace: string; readonly name: string };

/** The flags of `gatehouse explain`, checked against nothing but themselves. */
export interface ExplainFlags {
  readonly path: string;
  readonly application?: string;
  readonly method: string;
  readonly target: string;
  readonly host?: string;
  readonly ip?: string;
  readonly navigation: boolean;
  readonly caller: Caller;
  readonly format: 'text' | 'json';
  readonly output?: string;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The flags of `gatehouse explain`, checked; no side effects. Throws UsageError. */
export function parseExplainFlags(argv: readonly string[]): ExplainFlags {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      path: { type: 'string' },
      method: { type: 'string', default: 'GET' },
      host: { type: 'string' },
      ip: { type: 'string' },
      navigation: { type: 'boolean', default: false },
      email: { type: 'string' },
      sub: { type: 'string' },
      groups: { type: 'string', multiple: true, default: [] },
      idp: { type: 'string' },
      claim: { type: 'string', multiple: true, default: [] },
      'service-token': { type: 'string' },
      'service-account': { type: 'string' },
      application: { type: 'string' },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
    allowPositionals: true,
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError('give one file or directory');
  if (values.path === undefined) throw new UsageError('give --path <path>, the request target');
  if (!METHOD.test(values.method)) throw new UsageError('--method must be an HTTP method, e.g. GET');
  if (values.ip !== undefined && isIP(values.ip) === 0)
    throw new UsageError(`--ip ${values.ip} is not an IPv4 or IPv6 address`);
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError('--format must be text or json');
  return {
    path,
    ...(values.application ? { application: values.application } : {}),
    method: values.method.toUpperCase(),
    target: values.path,
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.ip !== undefined ? { ip: normaliseIp(values.ip) } : {}),
    navigation: values.navigation,
    caller: callerOf(values),
    format: values.format,
    ...(values.output !== undefined ? { output: values.output } : {}),
  };
}

function callerOf(values: {
  readonly email?: string | undefined;
  readonly sub?: string | undefined;
  readonly groups: readonly string[];
  readonly idp?: string | undefined;
  readonly claim: readonly string[];
  readonly 'service-token'?: string | undefined;
  readonly 'service-account'?: string | undefined;
}): Caller {
  const user =
    values.email !== undefined ||
    values.sub !== undefined ||
    values.groups.length > 0 ||
    values.idp !== undefined ||
    values.claim.length > 0;
  const token = values['service-token'];
  const account = values['service-account'];
  if ([user, token !== undefined, account !== undefined].filter(Boolean).length > 1)
    throw new UsageError(
      'give one caller: a user (--email, --sub, ...), --service-token or --service-account',
    );
  if (token !== undefined) {
    if (token.length === 0 || token.length > 128)
      throw new UsageError('--service-token must be 1 to 128 characters');
    return { kind: 'service-token', id: token };
  }
  if (account !== undefined) {
    const [namespace = '', name = '', more] = account.split('/');
    if (more !== undefined || !OBJECT_NAME.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
      throw new UsageError('--service-account must be namespace/name');
    return { kind: 'service-account', namespace, name };
  }
  if (!user) return { kind: 'anonymous' };
  const email = values.email?.trim();
  if (email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(email))
    throw new UsageError('--email must be an email address');
  const sub = values.sub ?? email;
  if (sub === undefined) throw new UsageError('a user needs --email or --sub');
  const groups = values.groups
    .flatMap((g) => g.split(','))
    .map((g) => g.trim())
    .filter((g) => g !== '');
  const claims: Record<string, unknown> = {};
  for (const pair of values.claim) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--claim ${pair}: give name=value`);
    const text = pair.slice(at + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    claims[pair.slice(0, at)] = value;
  }
  return { kind: 'user', email: email ?? null, sub, groups, idp: values.idp ?? null, claims };
}

/** The request as given can never reach this application's policies: why, for the person asking. */
class NeverDecided extends Error {}

/** The identity the sidecar would have for this caller under this config; NeverDecided when it would have none. */
function identityOf(caller: Caller, config: SidecarConfig, now: number): PolicyIdentity | null {
  const auth = config.auth;
  switch (caller.kind) {
    case 'anonymous':
      return null;
    case 'service-token': {
      const tokens = auth?.serviceTokens.tokens ?? [];
      const token = tokens.find((t) => t.id === caller.id);
      if (!token)
        throw new NeverDecided(
          `the application has no service token ${caller.id} (${tokens.length > 0 ? `it has ${tokens.map((t) => t.id).join(', ')}` : 'it has none'}): the sidecar refuses the credential before any policy`,
        );
      if (token.expiresAt !== null && token.expiresAt <= now)
        throw new NeverDecided(
          `service token ${caller.id} expired at ${new Date(token.expiresAt).toISOString()}: the sidecar refuses it before any policy`,
        );
      return serviceTokenIdentity(caller.id);
    }
    case 'service-account':
      if (!auth?.serviceAccounts)
        throw new NeverDecided(
          'the application does not take ServiceAccount tokens (spec.authentication.serviceAccounts): the sidecar never has such a caller',
        );
      return serviceAccountIdentity(caller.namespace, caller.name);
    case 'user': {
      const providers = auth?.providers.map((p) => p.name) ?? [];
      if (providers.length === 0)
        throw new NeverDecided('the application has no identity provider: nobody signs in to it');
      const idp = caller.idp ?? (providers.length === 1 ? (providers[0] as string) : undefined);
      if (idp === undefined)
        throw new NeverDecided(`give --idp: the application signs in through ${providers.join(', ')}`);
      if (!providers.includes(idp))
        throw new NeverDecided(
          `--idp ${idp} is not one of the application's identity providers (${providers.join(', ')})`,
        );
      return {
        kind: 'user',
        sub: caller.sub,
        email: caller.email,
        groups: caller.groups,
        idp,
        claims: caller.claims,
        serviceTokenId: null,
        serviceAccount: null,
      };
    }
  }
}

/** What the client gets for a decision, as the sidecar's authorize stage answers. */
interface Answer {
  readonly forwarded: boolean;
  readonly status: number | null;
  readonly error: string | null;
  readonly says: string;
}

function answerOf(
  decision: Decision,
  input: PolicyInput,
  config: SidecarConfig,
  navigation: boolean,
  acceptsMachines: boolean,
): Answer {
  const forwarded = (says: string): Answer => ({ forwarded: true, status: null, error: null, says });
  if (decision.action === 'allow') return forwarded('goes to the application, with the user\u2019s identity');
  if (decision.action === 'bypass') return forwarded('goes to the application (bypass: no identity needed)');
  if (decision.action === 'service-auth')
    return forwarded('goes to the application, with the service\u2019s identity');
  const providers = config.auth?.providers.length ?? 0;
  if (decision.reason === 'login_required') {
    if (providers > 0 && navigation)
      return {
        forwarded: false,
        status: 302,
        error: null,
        says: 'is sent to sign in (302 to the identity provider), and decided again once signed in',
      };
    return {
      forwarded: false,
      status: 401,
      error: 'authentication_required',
      says: `gets 401 authentication_required (sign-in required${providers > 0 && !navigation ? '; a page navigation, --navigation, is sent to sign in instead' : ''})`,
    };
  }
  if (input.identity === null && acceptsMachines)
    return {
      forwarded: false,
      status: 401,
      error: 'authentication_required',
      says: 'gets 401 authentication_required (credentials required: the application takes machine callers)',
    };
  return { forwarded: false, status: 403, error: 'access_denied', says: 'gets 403 access_denied' };
}

/** `gatehouse explain`: 0 when the request would go to the application, 1 when it is refused, 3 for an invalid config. */
export function runExplainCommand(argv: string[]): number {
  const flags = parseExplainFlags(argv);
  let config: SidecarConfig;
  try {
    config = configFromSnapshot(readSnapshot(flags.path), {
      fallbackKeys: processKeys(),
      ...(flags.application ? { application: flags.application } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(configErrorReport(error.errors));
    return 3;
  }
  const testsIp = config.policies.some((p) =>
    [...p.include, ...p.require, ...p.exclude].some((s) => 'ipRanges' in s),
  );
  let identity: PolicyIdentity | null;
  try {
    if (testsIp && flags.ip === undefined)
      throw new NeverDecided(
        'give --ip <address>: a policy of the application tests the client address (ipRanges)',
      );
    identity = identityOf(flags.caller, config, Date.now());
  } catch (error) {
    if (!(error instanceof NeverDecided)) throw error;
    process.stderr.write(`gatehouse explain: ${error.message}\n`);
    return 2;
  }
  const canonical = canonicalizeTarget(flags.target);
  const request = {
    method: flags.method,
    target: flags.target,
    host: flags.host ?? null,
    clientIp: flags.ip ?? null,
  };
  // In the sidecar's order: the Host, then the target (check-request).
  const hostRefused = hostRefusal(flags.host, config);
  if (hostRefused !== null) return refused(flags, request, hostRefused);
  if ('error' in canonical)
    return refused(flags, request, { status: 400, error: canonical.error, detail: canonical.detail });
  const input: PolicyInput = {
    identity,
    // An address no range of the policies can hold when they test none.
    clientIp: flags.ip ?? '192.0.2.1',
    path: canonical.path,
    method: flags.method,
  };
  const engine = compilePolicyEngine(config.policies);
  const { decision, audit } = engine.evaluate(input);
  const answer = answerOf(decision, input, config, flags.navigation, engine.acceptsMachines);
  const policies = tracePolicies(config.policies, input);
  if (flags.format === 'json')
    write(
      flags,
      `${JSON.stringify({ request, path: canonical.path, caller: identity, decision, audit, answer, policies }, null, 2)}\n`,
    );
  else write(flags, explanationText(flags, canonical.path, identity, decision, audit, answer, policies));
  return answer.forwarded ? 0 : 1;
}

/** Writes a request the sidecar refuses before any policy is looked at; exit status 1. */
function refused(
  flags: ExplainFlags,
  request: unknown,
  refusal: { readonly status: number; readonly error: string; readonly detail: string },
): number {
  write(
    flags,
    flags.format === 'json'
      ? `${JSON.stringify({ request, path: null, refused: refusal }, null, 2)}\n`
      : `${flags.method} ${flags.target}\nThe sidecar refuses the request before any policy: ${refusal.status} ${refusal.error} (${refusal.detail}).\n`,
  );
  return 1;
}

/** Why the sidecar refuses this Host before any policy (check-request), or null when it serves it. */
function hostRefusal(
  host: string | undefined,
  config: SidecarConfig,
): { status: number; error: string; detail: string } | null {
  if (host === undefined) return null;
  const normalised = normaliseHost(host);
  if (normalised === undefined)
    return { status: 400, error: 'bad_host', detail: `${host} is not a host name` };
  if (compileHostMatcher(config.hosts)(normalised)) return null;
  return {
    status: 421,
    error: 'unknown_host',
    detail: `the application serves ${config.hosts.join(', ')}, not ${normalised}`,
  };
}

function write(flags: ExplainFlags, text: string): void {
  if (flags.output !== undefined) writeFileSync(flags.output, text);
  else process.stdout.write(text);
}

function callerText(identity: PolicyIdentity | null): string {
  if (identity === null) return 'a caller without credentials';
  if (identity.kind === 'service-token') return `service token ${identity.serviceTokenId}`;
  if (identity.kind === 'service-account')
    return `ServiceAccount ${identity.serviceAccount?.namespace}/${identity.serviceAccount?.name}`;
  const facts = [
    identity.groups.length > 0 ? `groups ${identity.groups.join(', ')}` : 'no groups',
    `via ${identity.idp}`,
    ...Object.keys(identity.claims).map((name) => `claim ${name}`),
  ];
  return `${identity.email ?? `subject ${identity.sub}`} (${facts.join('; ')})`;
}

function decisionText(decision: Decision): string {
  if (decision.policy === null) return `${decision.action}, by default (${decision.reason})`;
  return `${decision.action}, by policy ${decision.policy}${decision.rule ? ` at ${decision.rule}` : ''} (${decision.reason})`;
}

function explanationText(
  flags: ExplainFlags,
  path: string,
  identity: PolicyIdentity | null,
  decision: Decision,
  audit: Decision | null,
  answer: Answer,
  policies: readonly PolicyTrace[],
): string {
  const lines = [
    `${flags.method} ${flags.target}${path !== flags.target.split('?')[0] ? ` (read as ${path})` : ''} from ${flags.ip ?? 'any address'}, by ${callerText(identity)}`,
    `Decision  ${decisionText(decision)}`,
    `The request ${answer.says}.`,
  ];
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
