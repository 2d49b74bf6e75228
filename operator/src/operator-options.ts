import type { KubeConnection } from '../../lib/kube/connection.ts';
import type { InformerOptions } from './controller/informer.ts';
import type { InjectionSettings } from './injection/injection-settings.ts';
import type { OperatorLog } from './operator-log.ts';
import type { ServingTlsSettings } from './tls/serving-tls-plan.ts';

export const DEFAULT_CONCURRENCY = 4;
export const LEASE_NAME = 'gatehouse-operator';

export interface StaticTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly caBundle?: string;
}

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export interface OperatorOptions {
  readonly connection: KubeConnection;
  /** Namespace of the operator's Lease. */
  readonly namespace: string;
  /** This replica's name in the Lease (the pod name in a cluster). */
  readonly identity: string;
  /**
   * The serving certificate: given (cert, key, and the CA bundle sidecars should trust), or
   * managed: kept by the operator in a Secret of its namespace, with its own CA.
   */
  readonly tls:
    | StaticTls
    | { readonly managed: { readonly secretName: string; readonly settings: ServingTlsSettings } };
  /** Sidecar injection (webhook and Deployment opt-in); off when absent. */
  readonly injection?: {
    readonly settings: InjectionSettings;
    /** The MutatingWebhookConfiguration whose caBundle the operator keeps (with managed TLS). */
    readonly webhookConfiguration?: string;
  };
  readonly deliveryListen: Listen;
  readonly adminListen: Listen;
  readonly concurrency?: number;
  readonly watch?: Pick<InformerOptions, 'watchTimeoutSeconds' | 'stallTimeoutMs' | 'resyncMs' | 'backoff'>;
  readonly lease?: { durationMs?: number; renewMs?: number; retryMs?: number };
  readonly rotation?: { rotationMs?: number; overlapMs?: number };
  readonly heartbeatMs?: number;
  /** How often the installed CRDs are compared with this version's (default CRD_CHECK_INTERVAL_MS). */
  readonly crdCheckIntervalMs?: number;
  readonly now?: () => Date;
  /** Where its events go (default: a JSON line each on stdout). */
  readonly log?: OperatorLog;
}
