import { statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AccessRevocationStatus } from '../../../contract/api/access-revocation.ts';
import { ACCESS_APPLICATIONS, ACCESS_REVOCATIONS } from '../../../contract/api/resource-types.ts';
import { writeRevocationFile } from '../../../contract/revocation-files.ts';
import { SESSION_ID } from '../../../contract/session-id.ts';
import { parseDurationFlag, UsageError } from '../../../lib/args.ts';
import { sleep } from '../../../lib/backoff.ts';
import { defaultNamespace, loadConnection } from '../../../lib/kube/connection.ts';
import { KubeClient } from '../../../lib/kube/kube-client.ts';
import { isObjectKey, type KubeObject } from '../../../lib/kube/kube-object.ts';
import { parseRfc3339, RFC3339_HINT } from '../../../lib/rfc3339.ts';
import { readyCondition } from '../controller/conditions.ts';
import {
  confirmSidecars,
  runningSidecars,
  type SidecarsConfirmation,
  SidecarsUncheckedError,
} from './revocation-sidecars.ts';

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
                          had not applied it is back on its config stream); creates nothing
  --confirm <what>        what confirms it: sidecars (default: every running sidecar of the covered
                          applications wrote that it applied it, read from their logs; needs list
                          on pods and get on pods/log, as the chart's gatehouse-revoker role has)
                          or config (the operator's config for every covered application carries it)
  --kubeconfig <file>     kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --context <name>        kubeconfig context
  --revocations-dir <dir> without a cluster: write the revocation into the directory standalone
                          sidecars share (their --revocations-dir); they apply it within their poll
                          interval. --app names are namespace/name (default/<name> without a namespace)
  --max-session-lifetime <d>  with --revocations-dir: the longest session.absoluteLifetime of the
                          applications (default 12h); the file is deleted after cut-off plus this
  --format <format>       text (default), json or name
  -o, --output <file>     write the result to a file instead of standard output
`;

const EMAIL = /^[^@\s]+@[^@\s]+$/;
const POLL_MS = 100;

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
interface RevokeReportFlags {
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
  const { values } = parseArgs({
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
    return { ...report, check: values.check };
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
  'revocations-dir',
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
function targetName(target: RevokeTarget): string {
  if ('user' in target) return target.user;
  if ('subject' in target)
    return `subject ${target.subject}${target.provider ? ` (provider ${target.provider})` : ''}`;
  if ('session' in target) return `session ${target.session}`;
  return `provider session ${target.providerSession} (provider ${target.provider})`;
}

/** What the AccessRevocation's generated name begins with: who it names. */
function targetNamePrefix(target: RevokeTarget): string {
  if ('user' in target) return revocationNamePrefix(target.user);
  if ('subject' in target) return revocationNamePrefix(target.subject);
  if ('session' in target) return revocationNamePrefix(`session ${target.session}`);
  return revocationNamePrefix(`${target.provider} session ${target.providerSession}`);
}

/** How far ahead of this machine's clock a --before may be (clocks drift). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** `gatehouse revoke`: creates an AccessRevocation (or finds one, --check) and waits until it is confirmed. */
export async function runRevokeCommand(argv: string[]): Promise<number> {
  const flags = parseRevokeFlags(argv);
  if (flags.check === undefined && flags.directory) return revokeInDirectory(flags, flags.directory);
  const connection = loadConnection(flags.connection);
  const client = new KubeClient(connection, { fieldManager: 'gatehouse-revoke' });
  try {
    if (flags.check === undefined) {
      const object = await createRevocation(client, flags);
      return object === undefined ? 1 : await confirmAndReport(client, object, flags, flags.target, true);
    }
    const object = await client.get(ACCESS_REVOCATIONS, undefined, flags.check);
    const target = object === undefined ? undefined : targetOfSpec(object.spec);
    if (object === undefined || target === undefined) {
      process.stderr.write(
        object === undefined
          ? `gatehouse revoke: no AccessRevocation ${flags.check}: it expired and was deleted (no session it covers can still be alive), was lifted (kubectl delete), or never was\n`
          : `gatehouse revoke: AccessRevocation ${flags.check} names no user, subject, session or provider session\n`,
      );
      return 1;
    }
    return await confirmAndReport(client, object, flags, target, false);
  } finally {
    await connection.dispatcher.close().catch(() => undefined);
  }
}

/** Creates the AccessRevocation the flags describe; undefined (said on stderr) when an --app does not exist. */
async function createRevocation(client: KubeClient, flags: RevokeFlags): Promise<KubeObject | undefined> {
  const namespace = flags.namespace ?? defaultNamespace(flags.connection);
  const applications = applicationKeys(flags.apps, namespace);
  // A misspelt application would make a revocation that ends nothing: refuse it instead.
  const missing: string[] = [];
  for (const key of applications) {
    const [ns = '', app = ''] = key.split('/');
    if (!(await client.get(ACCESS_APPLICATIONS, ns, app))) missing.push(key);
  }
  if (missing.length > 0) {
    process.stderr.write(
      `gatehouse revoke: no AccessApplication ${missing.join(', ')}; nothing was revoked\n`,
    );
    return undefined;
  }
  return client.create<KubeObject>(ACCESS_REVOCATIONS, undefined, {
    metadata: { generateName: targetNamePrefix(flags.target) },
    spec: {
      ...flags.target,
      ...(applications.length > 0 ? { applications } : {}),
      ...(flags.before ? { revokedBefore: flags.before } : {}),
      ...(flags.reason ? { reason: flags.reason } : {}),
    },
  });
}

/** Whose sessions an AccessRevocation's spec ends; undefined when it names none. */
function targetOfSpec(spec: unknown): RevokeTarget | undefined {
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

/**
 * Waits (up to --wait) until the operator reports the revocation enforced, then, with --confirm
 * sidecars, until every running sidecar of the covered applications says it applied it; writes
 * the result and says on stderr what is not confirmed. The exit status.
 */
async function confirmAndReport(
  client: KubeClient,
  created: KubeObject,
  flags: RevokeReportFlags,
  target: RevokeTarget,
  isNew: boolean,
): Promise<number> {
  const { waitMs } = flags;
  let object = created;
  const name = object.metadata.name;
  const started = Date.now();
  const deadline = started + waitMs;
  let enforced = false;
  let gone = false;
  let sidecars: SidecarsReport | undefined;
  let waitingFor = `the operator to deliver ${name} to every covered application`;
  // On a terminal, say what it waits for once the wait is long enough to wonder.
  const progress = process.stderr.isTTY
    ? setInterval(() => {
        const waited = ((Date.now() - started) / 1000).toFixed(0);
        process.stderr.write(
          `\r\x1b[Kgatehouse revoke: waiting for ${waitingFor} (${waited} s of ${waitMs / 1000} s)`,
        );
      }, 1000)
    : undefined;
  try {
    for (;;) {
      const status = object.status as AccessRevocationStatus | undefined;
      const ready = readyCondition(status);
      if (status?.observedGeneration === object.metadata.generation && ready?.status === 'True') {
        enforced = true;
        break;
      }
      if (Date.now() >= deadline) break;
      await sleep(POLL_MS);
      const latest = await client.get(ACCESS_REVOCATIONS, undefined, name);
      if (!latest) {
        enforced = true; // already expired and deleted: nothing it covers can be alive
        gone = true;
        break;
      }
      object = latest;
    }
    if (enforced && !gone && flags.confirm === 'sidecars' && waitMs > 0) {
      waitingFor = `every running sidecar of the covered applications to apply ${name}`;
      sidecars = await checkSidecars(client, object, Math.max(deadline, Date.now() + SIDECARS_MIN_MS));
    }
  } finally {
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\r\x1b[K');
    }
  }
  const outcome: Outcome = gone
    ? 'expired'
    : enforced
      ? 'enforced'
      : isNew && waitMs === 0
        ? 'created'
        : 'unconfirmed';
  writeResult(flags, resultText(flags.format, object, target, targetName(target), outcome, isNew, sidecars));
  if (sidecars && !sidecars.checked)
    process.stderr.write(
      `gatehouse revoke: the sidecars were not checked: ${sidecars.reason}. The config of every covered application carries it; to confirm each sidecar, bind the chart's gatehouse-revoker role (it lists pods and reads their logs), or give --confirm config.\n`,
    );
  if (sidecars?.checked && sidecars.pending.length > 0) {
    process.stderr.write(pendingSidecarsText(sidecars, waitMs, name));
    return 1;
  }
  if (outcome === 'unconfirmed') {
    const ready = readyCondition(object.status as AccessRevocationStatus | undefined);
    process.stderr.write(
      `gatehouse revoke: not confirmed within ${waitMs / 1000}s (${ready ? ready.message : 'the operator has not reported yet; is it running?'}). The AccessRevocation exists and applies as soon as the operator delivers it.\n`,
    );
    return 1;
  }
  return 0;
}

/** What became of the revocation while the command waited. */
type Outcome = 'enforced' | 'expired' | 'unconfirmed' | 'created';

/** The running sidecars' confirmation, or why there is none. */
type SidecarsReport =
  | ({ readonly checked: true; readonly running: number } & SidecarsConfirmation)
  | { readonly checked: false; readonly reason: string };

/** The time the sidecars get at least, however long the operator took within --wait. */
const SIDECARS_MIN_MS = 1_000;

/** Reads the logs of the covered applications' running sidecars for the revocation's `revocation_applied`. */
async function checkSidecars(
  client: KubeClient,
  object: KubeObject,
  deadline: number,
): Promise<SidecarsReport> {
  const status = object.status as AccessRevocationStatus | undefined;
  const createdAt = Date.parse(String(object.metadata.creationTimestamp));
  try {
    const running = await runningSidecars(client, status?.applications ?? []);
    const found = await confirmSidecars(client, { name: object.metadata.name, createdAt }, running, deadline);
    return { checked: true, running: running.length, ...found };
  } catch (error) {
    if (error instanceof SidecarsUncheckedError) return { checked: false, reason: error.message };
    return { checked: false, reason: `the pods could not be read (${(error as Error).message})` };
  }
}

/** Up to `most` names, then how many more. */
function someOf(names: readonly string[], most = 5): string {
  const shown = names.slice(0, most).join(', ');
  return names.length > most ? `${shown} and ${names.length - most} more` : shown;
}

/** The sentence for the sidecars that applied it (text format). */
function sidecarsSentence(report: SidecarsReport): string {
  if (!report.checked) return '';
  if (report.running === 0)
    return 'No sidecar of the covered applications is running now; one that starts gets it with its first config.\n';
  const applied = report.applied.length;
  const pods = (n: number) => `${n} running sidecar${n === 1 ? '' : 's'}`;
  const deleted = report.gone.length > 0 ? ` (${report.gone.length} deleted meanwhile)` : '';
  if (report.pending.length === 0)
    return `Applied by every running sidecar: ${pods(applied)}${deleted} (${someOf(report.applied.map((s) => s.pod))}).\n`;
  return `Applied by ${applied} of ${pods(report.running - report.gone.length)}${deleted}.\n`;
}

/** Standard error's account of the sidecars that did not apply it, and what to do about each. */
function pendingSidecarsText(
  report: SidecarsReport & { checked: true },
  waitMs: number,
  name: string,
): string {
  const n = report.pending.length;
  const running = report.running - report.gone.length;
  const lines = report.pending.map((s) => {
    const [namespace, pod] = s.pod.split('/');
    if (s.unread)
      return `  ${s.pod} (${s.application}): its log was not read before --wait ran out (give a longer --wait)\n`;
    const state = s.error
      ? `its log could not be read: ${s.error}`
      : s.ready
        ? 'ready, without it: its config stream is likely down (its config_stream_disconnected lines, GatehouseConfigStale)'
        : 'not ready: it has no config yet, and applies it with its first';
    return `  ${s.pod} (${s.application}): ${state}\n    to end its sessions now: kubectl delete pod -n ${namespace} ${pod}\n`;
  });
  return `gatehouse revoke: ${n} of ${running} running sidecar${running === 1 ? '' : 's'} did not write that ${n === 1 ? 'it' : 'they'} applied it within ${Math.max(waitMs, SIDECARS_MIN_MS) / 1000}s; the sessions it covers go on there until ${n === 1 ? 'it applies' : 'they apply'} it (the AccessRevocation stays; confirm again with gatehouse revoke --check ${name}):\n${lines.join('')}`;
}

/** The result as the format asks: the object's name, JSON, or sentences for a person. */
function resultText(
  format: RevokeFlags['format'],
  object: KubeObject,
  target: RevokeTarget,
  user: string,
  outcome: Outcome,
  isNew: boolean,
  sidecars?: SidecarsReport,
): string {
  const name = object.metadata.name;
  if (format === 'name') return `accessrevocation.gatehouse.dev/${name}\n`;
  if (format === 'json')
    return `${JSON.stringify({ name, user, outcome, spec: object.spec, status: object.status ?? null, ...(sidecars ? { sidecars } : {}) })}\n`;
  const status = object.status as AccessRevocationStatus | undefined;
  const apps = status?.applications ?? [];
  let text = `accessrevocation.gatehouse.dev/${name}${isNew ? ' created' : ''}\n`;
  if (outcome === 'enforced' && status) {
    const where = `${apps.length} application${apps.length === 1 ? '' : 's'}${apps.length > 0 ? `: ${apps.join(', ')}` : ''}`;
    text +=
      `${endedSentence(target, user, status.revokedBefore)} ${where}.\n` +
      `The revocation expires at ${status.expiresAt}, when no session it covers can still be alive.\n` +
      (sidecars ? sidecarsSentence(sidecars) : '');
  } else if (outcome === 'expired') {
    text +=
      'It was deleted at once: no session it covers can still be alive (its cut-off is older than every covered session lifetime, or no covered application signs anyone in).\n';
  }
  return text;
}

/**
 * The start of the sentence that says which sessions end, up to where: "… are ended in" once the
 * operator confirmed it, "… end in" for a file the sidecars have yet to read.
 */
function endedSentence(
  target: RevokeTarget,
  who: string,
  revokedBefore: string | undefined,
  confirmed = true,
): string {
  if ('session' in target) return `Session ${target.session} ${confirmed ? 'is ended' : 'ends'} in`;
  const verb = confirmed ? 'are ended in' : 'end in';
  if ('providerSession' in target)
    return `Sessions signed in through ${who} at or before ${revokedBefore} ${verb}`;
  return `Sessions of ${who} signed in at or before ${revokedBefore} ${verb}`;
}

/** Writes the result to --output, or standard output. */
function writeResult(flags: RevokeReportFlags, text: string): void {
  if (flags.output !== undefined) writeFileSync(flags.output, text);
  else process.stdout.write(text);
}

/** Why a revocation file could not be written into a directory that exists. */
const WRITE_REFUSALS = new Map([
  ['EACCES', 'permission denied: run as a user who may write there, as the sidecars do'],
  ['EPERM', 'not permitted'],
  ['EROFS', 'a read-only file system: give the directory as the sidecars mount it writable'],
  ['ENOSPC', 'no space left on its device'],
  ['EDQUOT', 'over its disk quota'],
]);

/** Why --revocations-dir cannot take a revocation file, or undefined when it is a directory. */
function unusableDirectory(path: string): string | undefined {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT')
      return `--revocations-dir ${path} does not exist: give the directory the standalone sidecars read (their --revocations-dir)`;
    if (code === 'ENOTDIR') return `--revocations-dir ${path} is not a directory`;
    if (code === 'EACCES') return `--revocations-dir ${path} cannot be reached (EACCES: permission denied)`;
    throw error;
  }
  return info.isDirectory() ? undefined : `--revocations-dir ${path} is not a directory`;
}

/** `gatehouse revoke --revocations-dir`: the revocation as a file the standalone sidecars read. */
function revokeInDirectory(flags: RevokeFlags, directory: NonNullable<RevokeFlags['directory']>): number {
  const applications = applicationKeys(flags.apps, flags.namespace ?? 'default');
  const before = flags.before ?? new Date().toISOString();
  const revokedBefore = before.replace(/\.\d+Z$/, 'Z');
  const expires = new Date(Date.parse(revokedBefore) + directory.maxSessionLifetimeMs);
  const spec = {
    ...flags.target,
    ...(applications.length > 0 ? { applications } : {}),
    revokedBefore,
    ...(flags.reason ? { reason: flags.reason } : {}),
  };
  const unusable = unusableDirectory(directory.path);
  if (unusable) {
    process.stderr.write(`gatehouse revoke: ${unusable}; nothing was revoked\n`);
    return 1;
  }
  let name: string;
  try {
    name = writeRevocationFile(directory.path, spec, expires, {
      prefix: revocationNamePrefix(flags.who).slice(0, -1),
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!WRITE_REFUSALS.has(code)) throw error;
    process.stderr.write(
      `gatehouse revoke: cannot write into --revocations-dir ${directory.path} (${code}: ${WRITE_REFUSALS.get(code)}); nothing was revoked\n`,
    );
    return 1;
  }
  if (flags.format === 'name') writeResult(flags, `accessrevocation.gatehouse.dev/${name}\n`);
  else if (flags.format === 'json')
    writeResult(
      flags,
      `${JSON.stringify({ name, file: `${directory.path}/${name}.yaml`, spec, expiresAt: expires.toISOString() }, null, 2)}\n`,
    );
  else
    writeResult(
      flags,
      `${directory.path}/${name}.yaml written\n${endedSentence(flags.target, flags.who, revokedBefore, false)} ${applications.length > 0 ? applications.join(', ') : 'every application'} reading ${directory.path}, within their poll interval.\n`,
    );
  return 0;
}
