/** Confirms a revocation file from the reports of the standalone replicas (contract/replica-reports.ts). */
import { isStale, type ReplicaReport, readReplicaReports } from '../../../contract/replica-reports.ts';

/** What the running replicas of the covered applications said, at the end of the wait. */
export interface ReplicasConfirmation {
  /** Running replicas that enforce it. */
  readonly applied: readonly ReplicaReport[];
  /** Running replicas that did not say they enforce it before the wait ran out. */
  readonly pending: readonly ReplicaReport[];
  /** Replicas whose application signs nobody in: no session to end, nothing to wait for. */
  readonly withoutSessions: readonly ReplicaReport[];
  /** Replicas whose last report is stale: killed, or cut off from the directory; not waited for. */
  readonly stale: readonly ReplicaReport[];
}

/** How often the reports are read again while some replica has yet to confirm (ms). */
const READ_EVERY_MS = 100;

/** The replicas' reports about revocation `name`, sorted into what they say. */
export function sortReplicas(
  reports: readonly ReplicaReport[],
  name: string,
  covers: (app: string) => boolean,
  now: number,
): ReplicasConfirmation {
  const applied: ReplicaReport[] = [];
  const pending: ReplicaReport[] = [];
  const withoutSessions: ReplicaReport[] = [];
  const stale: ReplicaReport[] = [];
  const order = (a: ReplicaReport, b: ReplicaReport) =>
    a.app.localeCompare(b.app) || a.replica.localeCompare(b.replica);
  for (const report of [...reports].sort(order)) {
    if (!covers(report.app)) continue;
    if (isStale(report, now)) stale.push(report);
    else if (!report.signsIn) withoutSessions.push(report);
    else if (report.revocations.includes(name)) applied.push(report);
    else pending.push(report);
  }
  return { applied, pending, withoutSessions, stale };
}

/**
 * Reads the reports until every running replica of the covered applications says it enforces
 * the revocation, or until `deadline` (epoch ms); the confirmation as it stands then.
 */
export async function confirmReplicas(
  directory: string,
  name: string,
  covers: (app: string) => boolean,
  deadline: number,
): Promise<ReplicasConfirmation> {
  for (;;) {
    const now = Date.now();
    const found = sortReplicas(await readReplicaReports(directory), name, covers, now);
    if (found.pending.length === 0 || now >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, Math.min(READ_EVERY_MS, deadline - now)));
  }
}

/** A replica as the messages name it. */
export function replicaName(report: ReplicaReport): string {
  return `${report.app}@${report.replica}`;
}
