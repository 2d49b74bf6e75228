import { statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AccessRevocationStatus } from '../../../contract/api/access-revocation.ts';
import { ACCESS_APPLICATIONS, ACCESS_REVOCATIONS } from '../../../contract/api/resource-types.ts';
import { writeRevocationFile } from '../../../contract/revocation-files.ts';
import { parseDurationFlag, UsageError } from '../../../lib/args.ts';
import { sleep } from '../../../lib/backoff.ts';
import { defaultNamespace, loadConnection } from '../../../lib/kube/connection.ts';
import { KubeClient } from '../../../lib/kube/kube-client.ts';
import { isObjectKey, type KubeObject } from '../../../lib/kube/kube-object.ts';
import { parseRfc3339, RFC3339_HINT } from '../../../lib/rfc3339.ts';
import { readyCondition } from '../controller/conditions.ts';

export const REVOKE_USAGE = `Usage: gatehouse revoke --user <email> [--app <name>]... [options]
       gatehouse revoke --sub <subject> [--provider <name>] [--app <name>]... [options]
       kubectl gatehouse revoke ...

Ends the user's sessions in every sidecar of the given applications (every application
without --app) within a second. Open WebSockets and requests in progress of those sessions (a
stream of events, a long poll, a download) are ended; the user may sign in again afterwards if
policy allows. It creates an AccessRevocation, which the operator delivers
to the sidecars and deletes once no session it covers can still be alive.

Options:
  --user <email>          whose sessions end
  --sub <subject>         or: the subject (OIDC sub) whose sessions end, for users without an email
  --provider <name>       with --sub: only sessions from this identity provider
  --app <name>            an AccessApplication, as namespace/name or a name in --namespace; repeatable
  -n, --namespace <ns>    namespace of --app names without one (default: the kubeconfig context's)
  --reason <text>         why (kept on the object and logged by every sidecar)
  --before <time>         end sessions signed in at or before this RFC 3339 time (default: now)
  --wait <duration>       wait until every covered application's config carries it (default 10s; 0s: do not wait)
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

/** Whose sessions end, and how to report it; checked flags of `gatehouse revoke`. */
export interface RevokeFlags {
  readonly target: { readonly user: string } | { readonly subject: string; readonly provider?: string };
  /** Who, as the messages name it. */
  readonly who: string;
  readonly apps: readonly string[];
  readonly namespace?: string;
  readonly reason?: string;
  /** RFC 3339, normalised to UTC. */
  readonly before?: string;
  readonly waitMs: number;
  readonly connection: { readonly kubeconfig?: string; readonly context?: string };
  readonly format: 'text' | 'json' | 'name';
  /** Where the result goes; standard output when absent. */
  readonly output?: string;
  /** Standalone: the shared revocations directory to write into, and the longest session lifetime. */
  readonly directory?: { readonly path: string; readonly maxSessionLifetimeMs: number };
}

const FORMATS = ['text', 'json', 'name'] as const;

/** The flags of `gatehouse revoke`, checked; no side effects. Throws UsageError. */
export function parseRevokeFlags(argv: readonly string[], now = Date.now()): RevokeFlags {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      user: { type: 'string' },
      sub: { type: 'string' },
      provider: { type: 'string' },
      app: { type: 'string', multiple: true, default: [] },
      namespace: { type: 'string', short: 'n' },
      reason: { type: 'string' },
      before: { type: 'string' },
      wait: { type: 'string', default: '10s' },
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
  const user = values.user?.trim();
  const subject = values.sub;
  if ((user === undefined) === (subject === undefined))
    throw new UsageError('give --user <email> or --sub <subject>');
  if (user !== undefined && (!EMAIL.test(user) || user.length > 320))
    throw new UsageError('--user must be an email address');
  if (subject !== undefined && (subject.length === 0 || subject.length > 255))
    throw new UsageError('--sub must be 1 to 255 characters');
  if (values.provider !== undefined && subject === undefined)
    throw new UsageError('--provider goes with --sub');
  const format = FORMATS.find((f) => f === values.format);
  if (!format) throw new UsageError('--format must be text, json or name');
  // -o once named the format here; it is the output file in every command now.
  if (values.output !== undefined && (FORMATS as readonly string[]).includes(values.output))
    throw new UsageError(`-o/--output is the file to write; for the format give --format ${values.output}`);
  if (values.reason !== undefined && values.reason.length > 512)
    throw new UsageError('--reason is at most 512 characters');
  let before: string | undefined;
  if (values.before !== undefined) {
    const at = parseRfc3339(values.before);
    if (at === undefined) throw new UsageError(`--before must be ${RFC3339_HINT}`);
    // A cut-off ahead would end every session signed in until then, later sign-ins included (a
    // mistyped year locks the user out for decades): a revocation ends what is open.
    if (at > now + FUTURE_TOLERANCE_MS)
      throw new UsageError(
        `--before ${values.before} is in the future: a revocation ends sessions already signed in (give a time up to now, or leave it out for now); to keep a user out, take them out of the policies or disable them at the identity provider`,
      );
    before = new Date(at).toISOString();
  }
  return {
    target:
      user !== undefined
        ? { user }
        : { subject: subject as string, ...(values.provider ? { provider: values.provider } : {}) },
    who: user ?? `subject ${subject}${values.provider ? ` (provider ${values.provider})` : ''}`,
    apps: values.app,
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(before ? { before } : {}),
    waitMs: parseDurationFlag(values.wait, '--wait'),
    ...(values['revocations-dir']
      ? {
          directory: {
            path: values['revocations-dir'],
            maxSessionLifetimeMs: parseDurationFlag(values['max-session-lifetime'], '--max-session-lifetime'),
          },
        }
      : {}),
    connection: {
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.context ? { context: values.context } : {}),
    },
    format,
    ...(values.output !== undefined ? { output: values.output } : {}),
  };
}

/** How far ahead of this machine's clock a --before may be (clocks drift). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** `gatehouse revoke`: creates an AccessRevocation and waits until it is enforced. */
export async function runRevokeCommand(argv: string[]): Promise<number> {
  const flags = parseRevokeFlags(argv);
  if (flags.directory) return revokeInDirectory(flags, flags.directory);
  const { who, waitMs, before, target } = flags;
  const connectionOptions = flags.connection;
  const namespace = flags.namespace ?? defaultNamespace(connectionOptions);
  const applications = applicationKeys(flags.apps, namespace);

  const connection = loadConnection(connectionOptions);
  const client = new KubeClient(connection, { fieldManager: 'gatehouse-revoke' });
  try {
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
      return 1;
    }
    let object = await client.create<KubeObject>(ACCESS_REVOCATIONS, undefined, {
      metadata: { generateName: revocationNamePrefix('user' in target ? target.user : target.subject) },
      spec: {
        ...target,
        ...(applications.length > 0 ? { applications } : {}),
        ...(before ? { revokedBefore: before } : {}),
        ...(flags.reason ? { reason: flags.reason } : {}),
      },
    });
    const name = object.metadata.name;
    const started = Date.now();
    const deadline = started + waitMs;
    let enforced = false;
    let gone = false;
    // On a terminal, say what it waits for once the wait is long enough to wonder.
    const progress = process.stderr.isTTY
      ? setInterval(() => {
          const waited = ((Date.now() - started) / 1000).toFixed(0);
          process.stderr.write(
            `\rgatehouse revoke: waiting for the operator to deliver ${name} to every covered sidecar (${waited} s of ${waitMs / 1000} s)`,
          );
        }, 1000)
      : undefined;
    try {
      while (waitMs > 0) {
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
        : waitMs > 0
          ? 'unconfirmed'
          : 'created';
    writeResult(flags, resultText(flags.format, object, who, outcome));
    if (outcome === 'unconfirmed') {
      const ready = readyCondition(object.status as AccessRevocationStatus | undefined);
      process.stderr.write(
        `gatehouse revoke: not confirmed within ${waitMs / 1000}s (${ready ? ready.message : 'the operator has not reported yet; is it running?'}). The AccessRevocation exists and applies as soon as the operator delivers it.\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await connection.dispatcher.close().catch(() => undefined);
  }
}

/** What became of the revocation while the command waited. */
type Outcome = 'enforced' | 'expired' | 'unconfirmed' | 'created';

/** The result as the format asks: the object's name, JSON, or sentences for a person. */
function resultText(
  format: RevokeFlags['format'],
  object: KubeObject,
  user: string,
  outcome: Outcome,
): string {
  const name = object.metadata.name;
  if (format === 'name') return `accessrevocation.gatehouse.dev/${name}\n`;
  if (format === 'json')
    return `${JSON.stringify({ name, user, outcome, spec: object.spec, status: object.status ?? null })}\n`;
  const status = object.status as AccessRevocationStatus | undefined;
  const apps = status?.applications ?? [];
  let text = `accessrevocation.gatehouse.dev/${name} created\n`;
  if (outcome === 'enforced' && status) {
    text +=
      `Sessions of ${user} signed in at or before ${status.revokedBefore} are ended in ${apps.length} application${apps.length === 1 ? '' : 's'}${apps.length > 0 ? `: ${apps.join(', ')}` : ''}.\n` +
      `The revocation expires at ${status.expiresAt}, when no session it covers can still be alive.\n`;
  } else if (outcome === 'expired') {
    text +=
      'It was deleted at once: no session it covers can still be alive (its cut-off is older than every covered session lifetime, or no covered application signs anyone in).\n';
  }
  return text;
}

/** Writes the result to --output, or standard output. */
function writeResult(flags: RevokeFlags, text: string): void {
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
      `${directory.path}/${name}.yaml written\nSessions of ${flags.who} signed in at or before ${revokedBefore} end in ${applications.length > 0 ? applications.join(', ') : 'every application'} reading ${directory.path}, within their poll interval.\n`,
    );
  return 0;
}
