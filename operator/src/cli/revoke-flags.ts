/** The flags of `gatehouse revoke`, checked into what to revoke (or which revocation to confirm again) and how to report it. */
import { SESSION_ID } from '../../../contract/session-id.ts';
import { parseDurationFlag, UsageError } from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { isObjectKey } from '../../../lib/kube/kube-object.ts';
import { parseRfc3339, RFC3339_HINT } from '../../../lib/rfc3339.ts';

export const REVOKE_USAGE = `Usage: gatehouse revoke --user <email> [--app <name>]... [options]
       gatehouse revoke --sub <subject> [--provider <name>] [--app <name>]... [options]
       gatehouse revoke --session <id> [--app <name>]... [options]
       gatehouse revoke --provider-session <sid> --provider <name> [--app <name>]... [options]
       gatehouse revoke --check <name> [options]
       kubectl gatehouse revoke ...

Ends the user's sessions (or the one session named) in every sidecar of the given applications
(every application without --app) within a second. Open WebSockets and requests in progress of
those sessions (a stream of events, a long poll, a download) are ended; the user may sign in
again afterwards if policy allows. It creates an AccessRevocation, which the operator delivers
to the sidecars and deletes once no session it covers can still be alive.

Options:
  --user <email>          whose sessions end
  --sub <subject>         or: the subject (OIDC sub) whose sessions end, for users without an email
  --session <id>          or: one session, by its id (sessionId in the log lines, the Session of
                          gatehouse audit sessions): the user's other sessions go on
  --provider-session <sid>  or: every session signed in through this session of the identity
                          provider (the sid of its ID token and back-channel logout token)
  --provider <name>       with --sub: only sessions from this identity provider; with
                          --provider-session: the identity provider it belongs to (required)
  --app <name>            an AccessApplication, as namespace/name or a name in --namespace; repeatable
  -n, --namespace <ns>    namespace of --app names without one (default: the kubeconfig context's)
  --reason <text>         why (kept on the object and logged by every sidecar)
  --before <time>         end sessions signed in at or before this RFC 3339 time (default: now;
                          not with --session, which names one session whenever it signed in)
  --wait <duration>       wait until it is confirmed (default 10s; 0s: do not wait)
  --check <name>          confirm an AccessRevocation made before again (e.g. once a sidecar that
                          had not applied it is back on its config stream); creates nothing; with
                          --revocations-dir, its file there, confirmed by the running replicas
  --confirm <what>        what confirms it: sidecars (default: every running sidecar of the covered
                          applications wrote that it applied it, read from their logs; needs list
                          on pods and get on pods/log, as the chart's gatehouse-revoker role has)
                          or config (the operator's config for every covered application carries it;
                          with --revocations-dir: the file is written, no replica is waited for)
  --kubeconfig <file>     kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --context <name>        kubeconfig context
  --revocations-dir <dir> without a cluster: write the revocation into the directory standalone
                          sidecars share (their --revocations-dir); they apply it within their poll
                          interval, and each running replica confirms it in the directory's .replicas
                          folder. --app names are namespace/name (default/<name> without a namespace)
  --max-session-lifetime <d>  with --revocations-dir: the longest session.absoluteLifetime of the
                          applications (default 12h); the file is deleted after cut-off plus this
  --format <format>       text (default), json or name
  -o, --output <file>     write the result to a file instead of standard output
`;

const EMAIL = /^[^@\s]+@[^@\s]+$/;

/** A DNS-subdomain prefix for generateName from an email or subject: alice@example.com → alice-example-com- */
export function revocationNamePrefix(email: string): string {
  const base = email
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${base || 'user'}-`;
}

/** The namespace/name keys of --app values. */
export function applicationKeys(apps: readonly string[], namespace: string): string[] {
  return [
    ...new Set(
      apps.map((app) => {
        const [a, b] = app.split('/');
        const key = b === undefined ? `${namespace}/${a}` : app;
        if (!isObjectKey(key))
          throw new UsageError(
            `--app ${JSON.stringify(app)} is not an application name (namespace/name or name)`,
          );
        return key;
      }),
    ),
  ].sort();
}

/** Which sessions end: the AccessRevocation's fields that name them. */
export type RevokeTarget =
  | { readonly user: string }
  | { readonly subject: string; readonly provider?: string }
  | { readonly session: string }
  | { readonly providerSession: string; readonly provider: string };

/** How `gatehouse revoke` waits, confirms and reports, whether it creates a revocation or checks one. */
export interface RevokeReportFlags {
  readonly waitMs: number;
  /** What confirms the revocation: each running sidecar's log, or the operator's config. */
  readonly confirm: 'sidecars' | 'config';
  readonly connection: { readonly kubeconfig?: string; readonly context?: string };
  readonly format: 'text' | 'json' | 'name';
  /** Where the result goes; standard output when absent. */
  readonly output?: string;
}

/** `gatehouse revoke --check <name>`: an AccessRevocation made before, confirmed again. */
export interface RevokeCheckFlags extends RevokeReportFlags {
  readonly check: string;
  /** Standalone: the shared revocations directory that holds it. */
  readonly directory?: { readonly path: string };
}

/** Whose sessions end, and how to report it; checked flags of `gatehouse revoke`. */
export interface RevokeFlags extends RevokeReportFlags {
  readonly check?: undefined;
  readonly target: RevokeTarget;
  /** Who, as the messages name it. */
  readonly who: string;
  readonly apps: readonly string[];
  readonly namespace?: string;
  readonly reason?: string;
  /** RFC 3339, normalised to UTC. */
  readonly before?: string;
  /** Standalone: the shared revocations directory to write into, and the longest session lifetime. */
  readonly directory?: { readonly path: string; readonly maxSessionLifetimeMs: number };
}

const FORMATS = ['text', 'json', 'name'] as const;
const CONFIRMATIONS = ['sidecars', 'config'] as const;

/** The flags of `gatehouse revoke`, checked; no side effects. Throws UsageError. */
export function parseRevokeFlags(argv: readonly string[], now = Date.now()): RevokeFlags | RevokeCheckFlags {
  const { values } = parseCommandLine({
    args: [...argv],
    options: {
      user: { type: 'string' },
      sub: { type: 'string' },
      session: { type: 'string' },
      'provider-session': { type: 'string' },
      provider: { type: 'string' },
      app: { type: 'string', multiple: true, default: [] },
      namespace: { type: 'string', short: 'n' },
      reason: { type: 'string' },
      before: { type: 'string' },
      wait: { type: 'string', default: '10s' },
      confirm: { type: 'string', default: 'sidecars' },
      check: { type: 'string' },
      kubeconfig: { type: 'string' },
      'revocations-dir': { type: 'string' },
      'max-session-lifetime': { type: 'string', default: '12h' },
      context: { type: 'string' },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
    allowPositionals: false,
  });
  const format = FORMATS.find((f) => f === values.format);
  if (!format) throw new UsageError('--format must be text, json or name');
  const confirm = CONFIRMATIONS.find((c) => c === values.confirm);
  if (!confirm) throw new UsageError('--confirm must be sidecars or config');
  // -o once named the format here; it is the output file in every command now.
  if (values.output !== undefined && (FORMATS as readonly string[]).includes(values.output))
    throw new UsageError(`-o/--output is the file to write; for the format give --format ${values.output}`);
  const report = {
    waitMs: parseDurationFlag(values.wait, '--wait'),
    confirm,
    connection: {
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.context ? { context: values.context } : {}),
    },
    format,
    ...(values.output !== undefined ? { output: values.output } : {}),
  };
  if (values.check !== undefined) {
    const making = CREATE_ONLY_FLAGS.filter((flag) => {
      const value = values[flag];
      return Array.isArray(value) ? value.length > 0 : value !== undefined;
    });
    if (making.length > 0)
      throw new UsageError(
        `--check confirms an AccessRevocation that exists; it does not go with --${making.join(', --')}`,
      );
    if (!isObjectKey(`x/${values.check}`) || values.check.includes('/'))
      throw new UsageError(`--check ${JSON.stringify(values.check)} is not the name of an AccessRevocation`);
    const dir = values['revocations-dir'];
    return { ...report, check: values.check, ...(dir !== undefined ? { directory: { path: dir } } : {}) };
  }
  const target = revokeTarget(values);
  if (values.reason !== undefined && values.reason.length > 512)
    throw new UsageError('--reason is at most 512 characters');
  let before: string | undefined;
  if (values.before !== undefined) {
    const at = parseRfc3339(values.before);
    if (at === undefined) throw new UsageError(`--before must be ${RFC3339_HINT}`);
    if ('session' in target)
      throw new UsageError(
        '--before does not go with --session: a session id names one session, which ends whenever it signed in',
      );
    // A cut-off ahead would end every session signed in until then, later sign-ins included (a
    // mistyped year locks the user out for decades): a revocation ends what is open.
    if (at > now + FUTURE_TOLERANCE_MS)
      throw new UsageError(
        `--before ${values.before} is in the future: a revocation ends sessions already signed in (give a time up to now, or leave it out for now); to keep a user out, take them out of the policies or disable them at the identity provider`,
      );
    before = new Date(at).toISOString();
  }
  return {
    target,
    who: targetName(target),
    apps: values.app,
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(before ? { before } : {}),
    ...report,
    ...(values['revocations-dir']
      ? {
          directory: {
            path: values['revocations-dir'],
            maxSessionLifetimeMs: parseDurationFlag(values['max-session-lifetime'], '--max-session-lifetime'),
          },
        }
      : {}),
  };
}

/** The flags that make a revocation: not with --check. */
const CREATE_ONLY_FLAGS = [
  'user',
  'sub',
  'session',
  'provider-session',
  'provider',
  'app',
  'namespace',
  'reason',
  'before',
] as const;

const TARGET_FLAGS =
  'give one of --user <email>, --sub <subject>, --session <id> and --provider-session <sid>';

/** Which sessions the flags name; exactly one of --user, --sub, --session and --provider-session. */
function revokeTarget(values: {
  readonly user?: string | undefined;
  readonly sub?: string | undefined;
  readonly session?: string | undefined;
  readonly 'provider-session'?: string | undefined;
  readonly provider?: string | undefined;
}): RevokeTarget {
  const user = values.user?.trim();
  const { sub: subject, session, provider } = values;
  const providerSession = values['provider-session'];
  const given = [user, subject, session, providerSession].filter((v) => v !== undefined);
  if (given.length !== 1) throw new UsageError(TARGET_FLAGS);
  if (provider !== undefined && subject === undefined && providerSession === undefined)
    throw new UsageError('--provider goes with --sub or --provider-session');
  if (provider !== undefined && (provider.length === 0 || provider.length > 63))
    throw new UsageError('--provider must be 1 to 63 characters (an identity provider of the application)');
  if (user !== undefined) {
    if (!EMAIL.test(user) || user.length > 320) throw new UsageError('--user must be an email address');
    return { user };
  }
  if (subject !== undefined) {
    if (subject.length === 0 || subject.length > 255)
      throw new UsageError('--sub must be 1 to 255 characters');
    return { subject, ...(provider ? { provider } : {}) };
  }
  if (session !== undefined) {
    if (!SESSION_ID.test(session))
      throw new UsageError(
        '--session must be a session id: 16 to 64 letters, digits, - and _ (sessionId in the log lines)',
      );
    return { session };
  }
  const sid = providerSession as string;
  if (sid.length === 0 || sid.length > 255)
    throw new UsageError('--provider-session must be 1 to 255 characters');
  if (provider === undefined)
    throw new UsageError(
      '--provider-session needs --provider <name>: a provider session id is unique only within its identity provider',
    );
  return { providerSession: sid, provider };
}

/** The sessions a target names, as the messages say it. */
export function targetName(target: RevokeTarget): string {
  if ('user' in target) return target.user;
  if ('subject' in target)
    return `subject ${target.subject}${target.provider ? ` (provider ${target.provider})` : ''}`;
  if ('session' in target) return `session ${target.session}`;
  return `provider session ${target.providerSession} (provider ${target.provider})`;
}

/** What the AccessRevocation's generated name begins with: who it names. */
export function targetNamePrefix(target: RevokeTarget): string {
  if ('user' in target) return revocationNamePrefix(target.user);
  if ('subject' in target) return revocationNamePrefix(target.subject);
  if ('session' in target) return revocationNamePrefix(`session ${target.session}`);
  return revocationNamePrefix(`${target.provider} session ${target.providerSession}`);
}

/** How far ahead of this machine's clock a --before may be (clocks drift). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Whose sessions an AccessRevocation's spec ends; undefined when it names none. */
export function targetOfSpec(spec: unknown): RevokeTarget | undefined {
  const s = (spec ?? {}) as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const [user, subject, session, providerSession, provider] = [
    text(s.user),
    text(s.subject),
    text(s.session),
    text(s.providerSession),
    text(s.provider),
  ];
  if (user) return { user };
  if (subject) return { subject, ...(provider ? { provider } : {}) };
  if (session) return { session };
  if (providerSession && provider) return { providerSession, provider };
  return undefined;
}
