import type { AccessRevocationStatus } from '../../../contract/api/access-revocation.ts';
import { ACCESS_APPLICATIONS, ACCESS_REVOCATIONS } from '../../../contract/api/resource-types.ts';
import { sleep } from '../../../lib/backoff.ts';
import { defaultNamespace, loadConnection } from '../../../lib/kube/connection.ts';
import { KubeClient } from '../../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { readyCondition } from '../controller/conditions.ts';
import { confirmSidecars, coveredPods, SidecarsUncheckedError } from './revocation-sidecars.ts';
import { checkInDirectory, revokeInDirectory } from './revoke-directory.ts';
import {
  applicationKeys,
  parseRevokeFlags,
  type RevokeFlags,
  type RevokeReportFlags,
  type RevokeTarget,
  targetName,
  targetNamePrefix,
  targetOfSpec,
} from './revoke-flags.ts';
import {
  type Outcome,
  pendingSidecarsText,
  resultText,
  type SidecarsReport,
  withoutSidecarText,
  writeResult,
} from './revoke-report.ts';

export { REVOKE_USAGE } from './revoke-flags.ts';

/** Between two reads of the revocation's status while waiting. */
const POLL_MS = 100;
/** The time the sidecars get at least, however long the operator took within --wait. */
const SIDECARS_MIN_MS = 1_000;

/** `gatehouse revoke`: creates an AccessRevocation (or finds one, --check) and waits until it is confirmed. */
export async function runRevokeCommand(argv: string[]): Promise<number> {
  const flags = parseRevokeFlags(argv);
  if (flags.directory)
    return flags.check === undefined
      ? revokeInDirectory(flags, flags.directory)
      : checkInDirectory(flags, flags.directory);
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

/**
 * Waits (up to --wait) until the operator reports the revocation enforced, then, with --confirm
 * sidecars, until every running sidecar of the covered applications says it applied it; writes
 * the result and says on stderr what is not confirmed. The exit status.
 */
async function confirmAndReport(
  client: KubeClient,
  revocation: KubeObject,
  flags: RevokeReportFlags,
  target: RevokeTarget,
  /** Created by this run (else found again by --check). */
  isNew: boolean,
): Promise<number> {
  const { waitMs } = flags;
  let object = revocation;
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
  if (sidecars?.checked && sidecars.withoutSidecar.length > 0)
    process.stderr.write(withoutSidecarText(sidecars.withoutSidecar));
  if (sidecars?.checked && sidecars.pending.length > 0)
    process.stderr.write(pendingSidecarsText(sidecars, Math.max(waitMs, SIDECARS_MIN_MS), name));
  if (sidecars?.checked && (sidecars.pending.length > 0 || sidecars.withoutSidecar.length > 0)) return 1;
  if (outcome === 'unconfirmed') {
    const ready = readyCondition(object.status as AccessRevocationStatus | undefined);
    process.stderr.write(
      `gatehouse revoke: not confirmed within ${waitMs / 1000}s (${ready ? ready.message : 'the operator has not reported yet; is it running?'}). The AccessRevocation exists and applies as soon as the operator delivers it.\n`,
    );
    return 1;
  }
  return 0;
}

/** Reads the logs of the covered applications' running sidecars for the revocation's `revocation_applied`. */
async function checkSidecars(
  client: KubeClient,
  object: KubeObject,
  deadline: number,
): Promise<SidecarsReport> {
  const status = object.status as AccessRevocationStatus | undefined;
  const createdAt = Date.parse(String(object.metadata.creationTimestamp));
  try {
    const pods = await coveredPods(client, status?.applications ?? []);
    const found = await confirmSidecars(
      client,
      { name: object.metadata.name, createdAt },
      pods.sidecars,
      deadline,
    );
    return { checked: true, running: pods.sidecars.length, withoutSidecar: pods.withoutSidecar, ...found };
  } catch (error) {
    if (error instanceof SidecarsUncheckedError) return { checked: false, reason: error.message };
    return { checked: false, reason: `the pods could not be read (${(error as Error).message})` };
  }
}
