/**
 * Whether each running sidecar of the covered applications applied a revocation, read where the
 * sidecar says so: its `revocation_applied` line, written once it runs a config that carries the
 * revocation (the revocations message or a config; a sidecar started later, with its first
 * config). The operator's status says the config carries it; a sidecar whose config stream is
 * down does not have it until it reconnects, and only its log tells.
 */
import {
  APPLICATION_KEY,
  hasSidecarContainer,
  type PodContainers,
  runsWithoutSidecar,
  SIDECAR_CONTAINER,
  sidecarContainerStatus,
} from '../../../contract/injection.ts';
import { sleep } from '../../../lib/backoff.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import { PODS } from '../../../lib/kube/resource-types.ts';
import { ndjsonLines } from '../../../lib/ndjson-lines.ts';
import { parseRfc3339 } from '../../../lib/rfc3339.ts';

/** A running Gatehouse sidecar of a covered application. */
export interface RunningSidecar {
  /** The pod, as namespace/name. */
  readonly pod: string;
  /** The AccessApplication it serves, as namespace/name. */
  readonly application: string;
  /** Whether its container is ready (a sidecar that never had its first config is not). */
  readonly ready: boolean;
}

/** What the logs said by the deadline. */
export interface SidecarsConfirmation {
  /** Wrote that it applied the revocation. */
  readonly applied: readonly RunningSidecar[];
  /**
   * Running, with no such line by the deadline; `error` when its log could not be read the last
   * time, `unread` when its log was never read to its end before the deadline.
   */
  readonly pending: readonly (RunningSidecar & { readonly error?: string; readonly unread?: true })[];
  /** Deleted while the check ran: it serves no one any more. */
  readonly gone: readonly RunningSidecar[];
}

/** The sidecars could not be checked at all (the caller may not list pods or read their logs). */
export class SidecarsUncheckedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SidecarsUncheckedError';
  }
}

/**
 * How far before the revocation's creation (the API server's clock) a log is read from: the
 * kubelet stamps lines with its node's clock. The name of a revocation is new, so earlier lines
 * cannot match; reading from a little earlier only costs bytes.
 */
const CLOCK_SKEW_MS = 30_000;
/** Logs read at once (as `gatehouse audit --cluster` reads at most 64). */
const CONCURRENCY = 32;
/** Pause between rounds over the sidecars still pending. */
const ROUND_MS = 250;
/** A longer line is not a sidecar's (its lines are a few kB). */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** The pods of the covered applications: their running sidecars, and the pods that run without one. */
export interface CoveredPods {
  readonly sidecars: readonly RunningSidecar[];
  /**
   * Pods (namespace/name) that serve without the sidecar: reached with no sign-in at all, so no
   * revocation ends anything there (the operator's Protected condition names them too).
   */
  readonly withoutSidecar: readonly string[];
}

/** Every sidecar container running now in a pod of one of the applications (namespace/name keys), and the pods without one. */
export async function coveredPods(client: KubeClient, applications: readonly string[]): Promise<CoveredPods> {
  const wanted = new Set(applications);
  const namespaces = [...new Set(applications.map((key) => key.slice(0, key.indexOf('/'))))].sort();
  const found: RunningSidecar[] = [];
  const withoutSidecar: string[] = [];
  // A revocation of every application covers many namespaces: listed a few at once, so that the
  // time --wait gives is left for the logs.
  const listed = await inTurns(namespaces, CONCURRENCY / 4, (namespace) =>
    unlessRefused(
      client.list(PODS, { namespace, labelSelector: APPLICATION_KEY }),
      `list pods in ${namespace}`,
    ),
  );
  for (const [i, namespace] of namespaces.entries()) {
    for (const pod of listed[i]?.items ?? []) {
      const application = `${namespace}/${pod.metadata.labels?.[APPLICATION_KEY] ?? ''}`;
      if (!wanted.has(application)) continue;
      if (runsWithoutSidecar(pod as PodContainers)) withoutSidecar.push(`${namespace}/${pod.metadata.name}`);
      if (!hasSidecarContainer(pod as PodContainers)) continue;
      const status = sidecarContainerStatus(pod);
      if (!status?.state?.running) continue;
      found.push({ pod: `${namespace}/${pod.metadata.name}`, application, ready: status.ready === true });
    }
  }
  return {
    sidecars: found.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0)),
    withoutSidecar: withoutSidecar.sort(),
  };
}

/**
 * Reads each sidecar's log for the revocation's `revocation_applied` line, round after round,
 * until every one has it or the deadline passes. A log is read from a little before the
 * revocation's creation, then on from the last second read, so a busy sidecar is not read again
 * from the start every round. Throws SidecarsUncheckedError when the API server refuses the reads.
 */
export async function confirmSidecars(
  client: KubeClient,
  revocation: { readonly name: string; readonly createdAt: number },
  sidecars: readonly RunningSidecar[],
  deadline: number,
): Promise<SidecarsConfirmation> {
  const applied: RunningSidecar[] = [];
  const gone: RunningSidecar[] = [];
  const from = new Map<RunningSidecar, string>();
  const errors = new Map<RunningSidecar, string>();
  /** Sidecars whose log was read to its end at least once. */
  const read = new Set<RunningSidecar>();
  const start = wholeSecond(revocation.createdAt - CLOCK_SKEW_MS);
  let pending = [...sidecars];
  while (pending.length > 0) {
    const outcomes = await inTurns(pending, CONCURRENCY, async (sidecar) => {
      const found = await readLog(client, sidecar, revocation.name, from.get(sidecar) ?? start, deadline);
      if (found.until !== undefined) from.set(sidecar, wholeSecond(found.until));
      if (found.error) errors.set(sidecar, found.error);
      else errors.delete(sidecar);
      if (found.whole) read.add(sidecar);
      return found.outcome;
    });
    const left: RunningSidecar[] = [];
    pending.forEach((sidecar, i) => {
      const outcome = outcomes[i];
      if (outcome === 'applied') applied.push(sidecar);
      else if (outcome === 'gone') gone.push(sidecar);
      else left.push(sidecar);
    });
    pending = left;
    const wait = Math.min(ROUND_MS, deadline - Date.now());
    if (pending.length === 0 || wait <= 0) break;
    await sleep(wait);
  }
  return {
    applied,
    pending: pending.map((sidecar) => {
      const error = errors.get(sidecar);
      if (error !== undefined) return { ...sidecar, error };
      return read.has(sidecar) ? sidecar : { ...sidecar, unread: true as const };
    }),
    gone,
  };
}

/**
 * What one read of a sidecar's log found, the kubelet's time of the last line read (epoch ms),
 * and whether the log was read to its end (not cut by the deadline or an error).
 */
interface LogRead {
  readonly outcome: 'applied' | 'gone' | 'pending';
  readonly whole?: true;
  readonly until?: number;
  readonly error?: string;
}

async function readLog(
  client: KubeClient,
  sidecar: RunningSidecar,
  revocation: string,
  sinceTime: string,
  deadline: number,
): Promise<LogRead> {
  const [namespace = '', pod = ''] = sidecar.pod.split('/');
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  let until: number | undefined;
  try {
    const log = await unlessRefused(
      client.podLog(namespace, pod, {
        container: SIDECAR_CONTAINER,
        sinceTime,
        timestamps: true,
        signal: abort.signal,
      }),
      `read the log of pod ${sidecar.pod}`,
    );
    try {
      for await (const line of ndjsonLines(log, { maxLineBytes: MAX_LINE_BYTES })) {
        const space = line.indexOf(' ');
        const at = space > 0 ? parseRfc3339(line.slice(0, space)) : undefined;
        if (at !== undefined) until = at;
        if (line.includes(revocation) && appliedIn(line.slice(space + 1), revocation))
          return { outcome: 'applied', whole: true };
      }
    } finally {
      log.destroy();
    }
    return { outcome: 'pending', whole: true, ...(until !== undefined ? { until } : {}) };
  } catch (error) {
    if (error instanceof SidecarsUncheckedError) throw error;
    // No log: the pod is gone, or the kubelet has no such container log (said as the error).
    if (
      error instanceof KubeApiError &&
      error.code === 'not_found' &&
      !(await podExists(client, namespace, pod))
    )
      return { outcome: 'gone' };
    return {
      outcome: 'pending',
      ...(until !== undefined ? { until } : {}),
      ...(abort.signal.aborted ? {} : { error: (error as Error).message }),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the pod still exists (true when that cannot be told); by list, which the caller may. */
async function podExists(client: KubeClient, namespace: string, pod: string): Promise<boolean> {
  try {
    const { items } = await client.list(PODS, { namespace, fieldSelector: `metadata.name=${pod}` });
    return items.length > 0;
  } catch {
    return true;
  }
}

/** Whether a line (without the kubelet's time) is the sidecar's `revocation_applied` of this revocation. */
function appliedIn(text: string, revocation: string): boolean {
  try {
    const line = JSON.parse(text) as { type?: unknown; revocation?: unknown };
    return line.type === 'revocation_applied' && line.revocation === revocation;
  } catch {
    return false;
  }
}

/** A time (epoch ms) cut to its second, in UTC, as the API takes `sinceTime`. */
function wholeSecond(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The API server's refusal of what the caller may not do, as SidecarsUncheckedError. */
async function unlessRefused<T>(call: Promise<T>, what: string): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof KubeApiError && (error.code === 'forbidden' || error.code === 'unauthorized'))
      throw new SidecarsUncheckedError(`may not ${what} (${error.code})`);
    throw error;
  }
}

/** `work` for each item, at most `concurrency` at once; the results in the items' order. */
async function inTurns<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
