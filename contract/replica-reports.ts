import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * What each standalone sidecar says about itself in the shared revocations directory
 * (`--revocations-dir`), so that `gatehouse revoke --revocations-dir` can confirm a revocation
 * from every running replica, as it does from each sidecar's log line in a cluster. One JSON
 * file per replica under `.replicas/` (a dot name: the sidecars' config reader skips it),
 * written again whenever the revocations in force change and at least every `everyMs`.
 */

/** The replicas' folder inside the revocations directory. */
export const REPLICAS_FOLDER = '.replicas';

/** How often a replica writes its report when nothing changes (ms). */
export const REPLICA_REPORT_EVERY_MS = 10_000;

/** Most revocation names a report lists (the analysts' share of a config's 10,000). */
export const MAX_REPORTED_REVOCATIONS = 2_000;

/** Largest report file read: the names above and the rest with room to spare. */
const MAX_REPORT_BYTES = 256 * 1024;

/** One replica's report. */
export interface ReplicaReport {
  /** `<host>:<port>` of the replica's listener: the same replica again after a restart. */
  readonly replica: string;
  /** The application it serves, `namespace/name` (`default/<name>` without a namespace). */
  readonly app: string;
  readonly pid: number;
  /** When the report was written (RFC 3339). */
  readonly reportedAt: string;
  /** How often it is written when nothing changes (ms): older than a few of these, it is stale. */
  readonly everyMs: number;
  /** Whether the application signs anyone in: one that does not has no session to end. */
  readonly signsIn: boolean;
  /** The revocations in force in it (not the ends of its own sign-outs), by name. */
  readonly revocations: readonly string[];
}

/** The report's file name: the application and the replica, in characters any file system takes. */
export function replicaReportFile(app: string, replica: string): string {
  return `${`${app}@${replica}`.replace(/[^A-Za-z0-9._@-]/g, '_')}.json`;
}

/** Writes a replica's report (a temporary file, then a rename: readers never see half of one). */
export async function writeReplicaReport(directory: string, report: ReplicaReport): Promise<void> {
  const folder = join(directory, REPLICAS_FOLDER);
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const file = replicaReportFile(report.app, report.replica);
  // Created afresh under a name nobody can guess (O_EXCL): never a named pipe planted in its place.
  const temporary = join(folder, `.${file}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temporary, `${JSON.stringify(report)}\n`, { mode: 0o644, flag: 'wx' });
  await rename(temporary, join(folder, file));
}

/** Deletes a replica's report (it stops: nobody should wait for it); gone already is fine. */
export async function removeReplicaReport(directory: string, app: string, replica: string): Promise<void> {
  await unlink(join(directory, REPLICAS_FOLDER, replicaReportFile(app, replica))).catch((error) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
}

/** A replica's or application's name as a report may give it. */
const PRINTABLE_NAME = /^[\x21-\x7e]{1,320}$/;

/** A report's text, checked; undefined for anything that is not one. */
export function parseReplicaReport(text: string): ReplicaReport | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const names = r.revocations;
  // The names are printed to an analyst's terminal: printable ASCII only, no escape sequences.
  if (
    typeof r.replica !== 'string' ||
    !PRINTABLE_NAME.test(r.replica) ||
    typeof r.app !== 'string' ||
    !PRINTABLE_NAME.test(r.app) ||
    !Number.isInteger(r.pid) ||
    (r.pid as number) < 1 ||
    typeof r.reportedAt !== 'string' ||
    Number.isNaN(Date.parse(r.reportedAt)) ||
    // A report that claims to come rarely would stand for a running replica for as long.
    !Number.isInteger(r.everyMs) ||
    (r.everyMs as number) < 100 ||
    (r.everyMs as number) > 3_600_000 ||
    typeof r.signsIn !== 'boolean' ||
    !Array.isArray(names) ||
    names.length > MAX_REPORTED_REVOCATIONS ||
    !names.every((n) => typeof n === 'string')
  )
    return undefined;
  return {
    replica: r.replica,
    app: r.app,
    pid: r.pid as number,
    reportedAt: r.reportedAt,
    everyMs: r.everyMs as number,
    signsIn: r.signsIn,
    revocations: names as string[],
  };
}

/**
 * Every replica's report in the directory (none when the folder does not exist). Files that are
 * not reports (half-written by hand, too large, not regular files) are left out; a named pipe is
 * not waited on.
 */
export async function readReplicaReports(directory: string): Promise<ReplicaReport[]> {
  return (await reportFiles(directory)).map((entry) => entry.report);
}

/** The reports with the paths of their files. */
async function reportFiles(directory: string): Promise<{ path: string; report: ReplicaReport }[]> {
  const folder = join(directory, REPLICAS_FOLDER);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    // No folder (no replica has written one), or a file in its place: no report.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const found: { path: string; report: ReplicaReport }[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const path = join(folder, name);
    const text = await readSmallFile(path);
    const report = text === undefined ? undefined : parseReplicaReport(text);
    if (report) found.push({ path, report });
  }
  return found;
}

/** A regular file's text when it is at most MAX_REPORT_BYTES; undefined otherwise or when gone. */
async function readSmallFile(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined; // deleted meanwhile, or not ours to read
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > MAX_REPORT_BYTES) return undefined;
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** A report not written again for this long is deleted by the next replica that writes its own. */
export const FORGET_REPORTS_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes the reports that have not been written again for FORGET_REPORTS_AFTER_MS (replicas
 * killed without a stop, or moved to another port); the others are left alone.
 */
export async function forgetOldReplicaReports(directory: string, now: number): Promise<number> {
  let forgotten = 0;
  for (const { path, report } of await reportFiles(directory)) {
    if (now - Date.parse(report.reportedAt) <= FORGET_REPORTS_AFTER_MS) continue;
    await unlink(path).then(
      () => forgotten++,
      () => undefined, // deleted meanwhile by another replica
    );
  }
  return forgotten;
}

/** Whether a report is too old to stand for a running replica: three of its intervals and 5 s. */
export function isStale(report: ReplicaReport, now: number): boolean {
  return now - Date.parse(report.reportedAt) > 3 * report.everyMs + 5_000;
}
