import {
  customResourceDefinitions,
  SCHEMA_DIGEST_ANNOTATION,
} from '../../../contract/crds/custom-resource-definitions.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import { CUSTOM_RESOURCE_DEFINITIONS } from '../../../lib/kube/resource-types.ts';
import { errorMessage, type OperatorLog } from '../operator-log.ts';

/**
 * How an installed CRD stands against this operator's: `matched`; `other_version` (its schema
 * digest is another version's, or it has none: CRDs from before the digest, or edited); `missing`;
 * `unreadable` (the operator may not read it).
 */
export type CrdState = 'matched' | 'other_version' | 'missing' | 'unreadable';

export interface CrdFinding {
  readonly crd: string;
  readonly state: CrdState;
  /** The installed CRD's digest; null when it has none or is not there. */
  readonly installed: string | null;
  readonly expected: string;
  /** The API server's answer, for `unreadable`. */
  readonly error?: string;
}

/** What to do about a CRD that is not this version's. */
export const CRD_HINT =
  'apply the CRDs of this version before its operator: kubectl apply --server-side -f crds/ (also in the chart, charts/gatehouse/crds/); helm install applies them once and helm upgrade never';

/** How often each replica reads the CRDs again. */
export const CRD_CHECK_INTERVAL_MS = 60_000;

/** The CRDs this version generates: name → schema digest. */
export function expectedCrds(): ReadonlyMap<string, string> {
  return new Map(
    Object.values(customResourceDefinitions()).map((crd) => [
      crd.metadata.name,
      crd.metadata.annotations[SCHEMA_DIGEST_ANNOTATION],
    ]),
  );
}

/**
 * Reads each CRD and compares its digest with this version's. A failure that says nothing about
 * the CRD (the API server unavailable, a timeout) rejects: the caller keeps what it knew.
 */
export async function inspectCrds(
  client: KubeClient,
  expected: ReadonlyMap<string, string>,
): Promise<CrdFinding[]> {
  return Promise.all(
    [...expected].map(async ([crd, digest]): Promise<CrdFinding> => {
      try {
        const installed = await client.get(CUSTOM_RESOURCE_DEFINITIONS, undefined, crd);
        if (installed === undefined) return { crd, state: 'missing', installed: null, expected: digest };
        const found = installed.metadata.annotations?.[SCHEMA_DIGEST_ANNOTATION] ?? null;
        return {
          crd,
          state: found === digest ? 'matched' : 'other_version',
          installed: found,
          expected: digest,
        };
      } catch (error) {
        if (error instanceof KubeApiError && (error.code === 'forbidden' || error.code === 'unauthorized'))
          return { crd, state: 'unreadable', installed: null, expected: digest, error: errorMessage(error) };
        throw error;
      }
    }),
  );
}

export interface CrdCheckOptions {
  readonly client: KubeClient;
  readonly log: OperatorLog;
  /** Called with every finding of every check (the metric). */
  readonly onFinding: (finding: CrdFinding) => void;
  readonly intervalMs?: number;
}

/**
 * Checks the installed CRDs now and every `intervalMs`: a CRD that is not this version's is
 * logged (`crd_mismatch`) when it becomes so, and `crd_matched` when it is again.
 */
export function startCrdCheck(options: CrdCheckOptions): { stop(): void } {
  const expected = expectedCrds();
  const logged = new Map<string, CrdState>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Whether the last check failed: an API server down for an hour is one line, not sixty. */
  let failing = false;
  const check = async (): Promise<void> => {
    let findings: CrdFinding[];
    try {
      findings = await inspectCrds(options.client, expected);
    } catch (error) {
      if (!failing) options.log('crd_check_failed', { error: errorMessage(error) });
      failing = true;
      return;
    }
    failing = false;
    for (const finding of findings) {
      options.onFinding(finding);
      const before = logged.get(finding.crd) ?? 'matched';
      if (finding.state === before) continue;
      logged.set(finding.crd, finding.state);
      if (finding.state === 'matched')
        options.log('crd_matched', { crd: finding.crd, digest: finding.expected });
      else
        options.log('crd_mismatch', {
          crd: finding.crd,
          state: finding.state,
          installed: finding.installed,
          expected: finding.expected,
          ...(finding.error === undefined ? {} : { error: finding.error }),
          hint: CRD_HINT,
        });
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void check().then(schedule), options.intervalMs ?? CRD_CHECK_INTERVAL_MS);
    timer.unref();
  };
  void check().then(schedule);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
