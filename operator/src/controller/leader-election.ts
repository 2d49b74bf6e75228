import { sleep } from '../../../lib/backoff.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { LEASES } from '../../../lib/kube/resource-types.ts';

export const DEFAULT_LEASE = { durationMs: 15_000, renewMs: 5_000, retryMs: 2_000 } as const;

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly durationMs?: number;
  readonly renewMs?: number;
  readonly retryMs?: number;
  readonly onChange: (leader: boolean) => void;
  readonly now?: () => Date;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

const microTime = (d: Date): string => d.toISOString().replace('Z', '000Z');

/**
 * Leader election on a coordination.k8s.io Lease, compare-and-swap on resourceVersion like
 * client-go: acquire when the lease is free or expired, renew every renewMs, and step down when a
 * renewal cannot be confirmed before the lease would expire. release() hands the lease over at once.
 */
export function startLeaderElection(client: KubeClient, options: LeaderElectionOptions) {
  const durationMs = options.durationMs ?? DEFAULT_LEASE.durationMs;
  const renewMs = options.renewMs ?? DEFAULT_LEASE.renewMs;
  const retryMs = options.retryMs ?? DEFAULT_LEASE.retryMs;
  const now = options.now ?? (() => new Date());
  const stop = new AbortController();
  let leader = false;
  let lastRenew = 0;
  let lease: KubeObject | undefined;

  const setLeader = (value: boolean): void => {
    if (value === leader) return;
    leader = value;
    options.onChange(value);
  };

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const at = now();
    const current = await client.get(LEASES, options.namespace, options.name);
    const spec: LeaseSpec = (current?.spec as LeaseSpec | undefined) ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewedAt = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewedAt + (spec.leaseDurationSeconds ?? 0) * 1000 < at.getTime();
    if (holder && holder !== options.identity && !expired) return false;
    const mine = holder === options.identity;
    const next: LeaseSpec = {
      holderIdentity: options.identity,
      leaseDurationSeconds: Math.ceil(durationMs / 1000),
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(at),
      renewTime: microTime(at),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      lease = current
        ? await client.replace(LEASES, { ...current, spec: next })
        : await client.create(LEASES, options.namespace, {
            metadata: { name: options.name, namespace: options.namespace },
            spec: next,
          });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 'conflict') return false;
      throw error;
    }
  };

  const loop = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      try {
        const ok = await tryAcquireOrRenew();
        if (ok) lastRenew = Date.now();
        if (stop.signal.aborted) return;
        setLeader(ok || (leader && Date.now() - lastRenew < durationMs));
      } catch {
        if (leader && Date.now() - lastRenew >= durationMs - renewMs) setLeader(false);
      }
      await sleep(leader ? renewMs : retryMs, stop.signal);
    }
  };
  void loop();

  return {
    isLeader: () => leader,
    /** Stops campaigning; a leader clears the holder so another replica takes over without waiting for expiry. */
    async release(): Promise<void> {
      stop.abort();
      const wasLeader = leader;
      setLeader(false);
      if (!wasLeader || !lease) return;
      try {
        const current = await client.get(LEASES, options.namespace, options.name);
        const spec = current?.spec as LeaseSpec | undefined;
        if (current && spec?.holderIdentity === options.identity) {
          await client.replace(LEASES, {
            ...current,
            spec: { ...spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(now()) },
          });
        }
      } catch {
        // the lease expires on its own
      }
    },
  };
}

export type LeaderElection = ReturnType<typeof startLeaderElection>;
