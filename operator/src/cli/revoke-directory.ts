/** `gatehouse revoke --revocations-dir`: a revocation as a file the standalone sidecars read. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPLICAS_FOLDER } from '../../../contract/replica-reports.ts';
import { writeRevocationFile } from '../../../contract/revocation-files.ts';
import { type RevocationView, readRevocation } from '../../../contract/revocations.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { confirmReplicas, type ReplicasConfirmation, replicaName } from './revocation-replicas.ts';
import {
  applicationKeys,
  type RevokeCheckFlags,
  type RevokeFlags,
  type RevokeReportFlags,
  type RevokeTarget,
  revocationNamePrefix,
  targetName,
  targetOfSpec,
} from './revoke-flags.ts';
import { endedSentence, writeResult } from './revoke-report.ts';

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
export async function revokeInDirectory(
  flags: RevokeFlags,
  directory: NonNullable<RevokeFlags['directory']>,
): Promise<number> {
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
  const covered = applications.length > 0 ? new Set(applications) : null;
  const written = {
    name,
    file: join(directory.path, `${name}.yaml`),
    spec,
    expiresAt: expires.toISOString(),
  };
  return confirmAndReport(flags, directory.path, {
    written,
    target: flags.target,
    who: flags.who,
    revokedBefore,
    covered,
    isNew: true,
  });
}

/** `gatehouse revoke --check <name> --revocations-dir`: a revocation file confirmed again. */
export async function checkInDirectory(
  flags: RevokeCheckFlags,
  directory: NonNullable<RevokeCheckFlags['directory']>,
): Promise<number> {
  const file = join(directory.path, `${flags.check}.yaml`);
  let revocation: RevocationView | undefined;
  let spec: unknown;
  try {
    const document = parse(readFileSync(file, 'utf8')) as KubeObject;
    spec = document?.spec;
    revocation = document?.metadata?.name === flags.check ? readRevocation(document) : undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    process.stderr.write(
      code === 'ENOENT'
        ? `gatehouse revoke: no ${file}: it expired and was deleted (no session it covers can still be alive), was lifted (the file deleted), or never was\n`
        : `gatehouse revoke: cannot read ${file}: ${(error as Error).message}\n`,
    );
    return 1;
  }
  // Whose sessions its spec ends, as the cluster's --check reads it (a valid revocation names one).
  const target = targetOfSpec(spec);
  if (revocation === undefined || target === undefined) {
    process.stderr.write(`gatehouse revoke: ${file} is not an AccessRevocation named ${flags.check}\n`);
    return 1;
  }
  return confirmAndReport(flags, directory.path, {
    written: { name: flags.check, file, spec },
    target,
    who: targetName(target),
    revokedBefore: new Date(revocation.before * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
    covered: revocation.applications,
    isNew: false,
  });
}

/**
 * Waits (up to --wait, with --confirm sidecars) until every running replica of the covered
 * applications reports the revocation in force; writes the result and says on stderr what is not
 * confirmed. The exit status: 1 when a running replica did not confirm it.
 */
async function confirmAndReport(
  flags: RevokeReportFlags,
  directory: string,
  revocation: {
    /** What the JSON result shows of the file. */
    readonly written: { readonly name: string; readonly file: string; readonly spec: unknown };
    readonly target: RevokeTarget;
    readonly who: string;
    readonly revokedBefore: string;
    /** The covered applications' keys; null for every application. */
    readonly covered: ReadonlySet<string> | null;
    readonly isNew: boolean;
  },
): Promise<number> {
  const { written, target, who, revokedBefore, covered, isNew } = revocation;
  const coversApp = (app: string) => covered === null || covered.has(app);
  let replicas: ReplicasConfirmation | undefined;
  let unreadable: string | undefined;
  if (flags.confirm === 'sidecars' && flags.waitMs > 0)
    try {
      replicas = await confirmReplicas(directory, written.name, coversApp, Date.now() + flags.waitMs);
    } catch (error) {
      unreadable = (error as Error).message;
    }
  const where = covered === null ? 'every application' : [...covered].sort().join(', ');
  if (flags.format === 'name') writeResult(flags, `accessrevocation.gatehouse.dev/${written.name}\n`);
  else if (flags.format === 'json')
    writeResult(
      flags,
      `${JSON.stringify({ ...written, ...(replicas ? { replicas: replicasJson(replicas) } : {}) }, null, 2)}\n`,
    );
  else
    writeResult(
      flags,
      `${isNew ? `${written.file} written` : written.file}\n${endedSentence(target, who, revokedBefore, false)} ${where} reading ${directory}, within their poll interval.\n${replicas ? replicasSentence(replicas) : ''}`,
    );
  if (unreadable !== undefined)
    process.stderr.write(
      `gatehouse revoke: the replicas' reports in ${join(directory, REPLICAS_FOLDER)} could not be read (${unreadable}), so none confirmed it; each applies it when it reads ${directory}\n`,
    );
  if (replicas === undefined) return 0;
  const stale = replicas.stale.filter((r) => Date.now() - Date.parse(r.reportedAt) < RECENT_MS);
  if (stale.length > 0) process.stderr.write(staleText(stale, directory));
  if (replicas.applied.length + replicas.pending.length + replicas.withoutSessions.length === 0)
    process.stderr.write(
      `gatehouse revoke: no running replica of ${covered === null ? 'any application' : where} reports in ${join(directory, REPLICAS_FOLDER)}, so none confirmed it: none runs, or they mount the directory read-only (their replica_report_failed line) or are older than this command. Each applies it when it reads ${directory}; give --confirm config not to wait for replicas.\n`,
    );
  if (replicas.pending.length === 0) return 0;
  process.stderr.write(pendingText(replicas, flags.waitMs, written.name, directory));
  return 1;
}

/** Past its interval by this much, a replica's report is overdue. */
const OVERDUE_MS = 2_000;

/** Stale reports younger than this are mentioned: a replica that may still run, cut off. */
const RECENT_MS = 60 * 60 * 1000;

function replicasJson(r: ReplicasConfirmation) {
  const entry = (report: { app: string; replica: string; pid: number; reportedAt: string }) => ({
    app: report.app,
    replica: report.replica,
    pid: report.pid,
    reportedAt: report.reportedAt,
  });
  return {
    applied: r.applied.map(entry),
    pending: r.pending.map(entry),
    withoutSessions: r.withoutSessions.map(entry),
    stale: r.stale.map(entry),
  };
}

/** The sentence for the replicas that confirmed it (text format). */
function replicasSentence(r: ReplicasConfirmation): string {
  const n = (count: number) => `${count} running replica${count === 1 ? '' : 's'}`;
  const none =
    r.withoutSessions.length > 0
      ? ` ${n(r.withoutSessions.length)} of covered applications that sign nobody in had nothing to end.`
      : '';
  const shown =
    r.applied.slice(0, 5).map(replicaName).join(', ') +
    (r.applied.length > 5 ? ` and ${r.applied.length - 5} more` : '');
  if (r.applied.length + r.pending.length === 0) return none ? `${none.trimStart()}\n` : '';
  if (r.pending.length === 0)
    return `Applied by every running replica: ${n(r.applied.length)} (${shown}).${none}\n`;
  return `Applied by ${r.applied.length} of ${n(r.applied.length + r.pending.length)}.${none}\n`;
}

/** Standard error's account of the running replicas that did not confirm it. */
function pendingText(r: ReplicasConfirmation, waitMs: number, name: string, directory: string): string {
  const k = r.pending.length;
  const running = k + r.applied.length;
  const now = Date.now();
  const lines = r.pending.map((p) =>
    now - Date.parse(p.reportedAt) > p.everyMs + OVERDUE_MS
      ? `  ${replicaName(p)} (pid ${p.pid}): no report since ${p.reportedAt} (it writes one every ${p.everyMs / 1000}s): it stopped without saying so, or cannot write the directory now (its replica_report_failed line)\n`
      : `  ${replicaName(p)} (pid ${p.pid}, last report ${p.reportedAt}): it has not read the file yet, or refused it (its revocation_skipped or config_rejected lines)\n`,
  );
  return `gatehouse revoke: ${k} of ${running} running replica${running === 1 ? '' : 's'} did not report it in force within ${waitMs / 1000}s; the sessions it covers go on there until ${k === 1 ? 'it applies' : 'they apply'} it (the file stays; confirm again with gatehouse revoke --check ${name} --revocations-dir ${directory}):\n${lines.join('')}`;
}

/** Standard error's note of replicas that stopped reporting recently without saying they stopped. */
function staleText(stale: ReplicasConfirmation['stale'], directory: string): string {
  const lines = stale.map((p) => `  ${replicaName(p)} (pid ${p.pid}, last report ${p.reportedAt})\n`);
  return `gatehouse revoke: ${stale.length} replica${stale.length === 1 ? '' : 's'} of the covered applications stopped reporting in ${join(directory, REPLICAS_FOLDER)} without saying ${stale.length === 1 ? 'it' : 'they'} stopped: killed, or cut off from the directory; one still serving does not apply revocations until it reads the directory again:\n${lines.join('')}`;
}
