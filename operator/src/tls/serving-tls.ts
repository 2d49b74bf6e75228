import { X509Certificate } from 'node:crypto';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { SECRETS } from '../../../lib/kube/resource-types.ts';
import { secretData, secretStrings } from '../../../lib/kube/secret-data.ts';
import type { Informer } from '../controller/informer.ts';
import type { OperatorLog } from '../operator-log.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import {
  planServingTls,
  type ServingTlsData,
  type ServingTlsSettings,
  TLS_SECRET_KEYS,
} from './serving-tls-plan.ts';

/** What the HTTPS server presents and what clients are told to trust. */
export interface ServingTls {
  readonly cert: string;
  readonly key: string;
  /** PEM bundle of every CA clients should trust (the newest, and the previous one during a rotation). */
  readonly caBundle: string;
}

export interface ServingTlsManagerOptions {
  readonly client: KubeClient;
  /** The operator's cluster-wide Secrets cache; the TLS Secret is read from it. */
  readonly secrets: Informer;
  readonly namespace: string;
  readonly secretName: string;
  readonly settings: ServingTlsSettings;
  readonly metrics: OperatorMetrics;
  readonly isLeader: () => boolean;
  readonly now: () => Date;
  readonly log: OperatorLog;
  /**
   * Queues a check of the Secret on the operator's work queue after ms (0: now). The queue runs
   * ensure() once at a time, coalesces requests, and retries a failure with backoff.
   */
  readonly requeue: (ms: number) => void;
}

/** Longest time between two checks of the Secret, so a hosts change or a drifted clock is caught. */
const MAX_CHECK_INTERVAL_MS = 3600_000;

/**
 * The operator's self-managed serving certificate (webhook and config delivery). The Lease holder
 * keeps the Secret current with planServingTls: it creates the CA and certificate, renews the
 * certificate before it expires and rotates the CA; every replica serves what the Secret holds.
 */
export function createServingTlsManager(options: ServingTlsManagerOptions) {
  const key = `${options.namespace}/${options.secretName}`;
  let current: ServingTls | undefined;
  const listeners: ((tls: ServingTls) => void)[] = [];
  /** resourceVersion of the Secret as this replica last wrote it: its own change coming back needs no new plan. */
  let written: string | undefined;
  let markLoaded: () => void = () => undefined;
  const loaded = new Promise<void>((r) => {
    markLoaded = r;
  });

  /**
   * Leader only (the work queue's reconcile): plans from an authoritative read of the Secret,
   * writes when the plan changes it, and asks to be checked again when the plan says. A write
   * conflict (another writer got there first) throws, and the queue plans again from what it wrote.
   */
  async function ensure(): Promise<'written' | 'unchanged' | 'skipped'> {
    if (!options.isLeader()) return 'skipped';
    const existing = await options.client.get(SECRETS, options.namespace, options.secretName);
    const plan = planServingTls(existing && secretStrings(existing), options.settings, options.now());
    if (plan.changes.length > 0) {
      const data = secretData(plan.data);
      const stored = existing
        ? await options.client.replace(SECRETS, { ...existing, data })
        : await options.client.create<KubeObject>(SECRETS, options.namespace, {
            metadata: {
              name: options.secretName,
              namespace: options.namespace,
              labels: {
                'app.kubernetes.io/name': 'gatehouse',
                'app.kubernetes.io/component': 'operator-tls',
              },
            },
            type: 'Opaque',
            data,
          });
      written = stored.metadata.resourceVersion;
      options.metrics.writes.inc({ what: 'tls_secret' });
      options.log('tls_secret_written', {
        secret: key,
        changes: [...plan.changes],
        notAfter: new X509Certificate(plan.data[TLS_SECRET_KEYS.cert] ?? '').validTo,
      });
    }
    options.requeue(
      Math.max(0, Math.min(plan.nextCheckAt.getTime() - options.now().getTime(), MAX_CHECK_INTERVAL_MS)),
    );
    return plan.changes.length > 0 ? 'written' : 'unchanged';
  }

  /** Every replica: serve what the Secret holds, when it holds a whole certificate. */
  function load(): void {
    const secret = options.secrets.get(key);
    const data: ServingTlsData | undefined = secret && secretStrings(secret);
    const cert = data?.[TLS_SECRET_KEYS.cert];
    const privateKey = data?.[TLS_SECRET_KEYS.key];
    const caBundle = data?.[TLS_SECRET_KEYS.bundle];
    if (!cert || !privateKey || !caBundle) return;
    if (current && current.cert === cert && current.caBundle === caBundle) return;
    try {
      options.metrics.servingCertificateExpiry.set(
        new Date(new X509Certificate(cert).validTo).getTime() / 1000,
      );
    } catch (error) {
      options.log('tls_secret_unreadable', { secret: key, error: (error as Error).message });
      return;
    }
    current = { cert, key: privateKey, caBundle };
    for (const listener of listeners) listener(current);
    markLoaded();
  }

  return {
    /** Resolves once a certificate is being served. */
    loaded,
    current: (): ServingTls | undefined => current,
    /** Calls the listener with every new certificate or bundle to serve (every replica), and now if there is one. */
    onChange(listener: (tls: ServingTls) => void): void {
      listeners.push(listener);
      if (current) listener(current);
    },
    ensure,
    /** The Secrets cache changed this key: serve it, and let the leader check it. */
    secretChanged(changed: string): void {
      if (changed !== key) return;
      load();
      const resourceVersion = options.secrets.get(key)?.metadata.resourceVersion;
      if (options.isLeader() && (resourceVersion === undefined || resourceVersion !== written))
        options.requeue(0);
    },
    /** Call once the Secrets cache is synced, and whenever leadership changes. */
    refresh(): void {
      load();
      if (options.isLeader()) options.requeue(0);
    },
  };
}

export type ServingTlsManager = ReturnType<typeof createServingTlsManager>;
