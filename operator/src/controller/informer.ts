import { DEFAULT_BACKOFF, jitteredBackoff, sleep } from '../../../lib/backoff.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { KubeApiError } from '../../../lib/kube/kube-errors.ts';
import { type KubeObject, objectKey } from '../../../lib/kube/kube-object.ts';
import type { ResourceType } from '../../../lib/kube/resource-types.ts';

export const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
/** Failures that end when the API server answers again. */
const RECOVERABLE: ReadonlySet<string> = new Set(['unavailable', 'stalled', 'too_many_requests']);
export const DEFAULT_RESYNC_MS = 10 * 60_000;

/** Why a watch was restarted; a label of the watch_restarts metric. */
export type RestartReason = 'expired' | 'stalled' | 'error' | 'resync';

export interface InformerOptions {
  readonly resource: ResourceType;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** The server ends each watch after this long (randomised ±10%); the informer resumes from the last version. */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent for longer than this is stalled: it is dropped and the informer lists again. Default: watch timeout + 30 s. */
  readonly stallTimeoutMs?: number;
  /** A full relist this often, so a missed event cannot outlive one period. */
  readonly resyncMs?: number;
  readonly backoff?: { baseMs: number; maxMs: number };
  /** Keeps only what the operator reads of each object (memory for large caches such as Pods). */
  readonly transform?: (object: KubeObject) => KubeObject;
  /** Called for every key whose object was added, changed, deleted, or seen at a relist. */
  readonly onChange: (key: string, object: KubeObject | undefined) => void;
  readonly onRestart?: (reason: RestartReason, error?: unknown) => void;
}

/** A cache of one resource type kept current by list+watch; read with get() and values(). */
export interface Informer {
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void>;
  get(key: string): KubeObject | undefined;
  values(): IterableIterator<KubeObject>;
  readonly size: number;
  stop(): void;
}

/**
 * list+watch with the failure handling controllers need: a watch that errors is restarted with
 * jittered backoff; one that goes silent is detected and replaced; an expired version (410) or the
 * resync period triggers a relist, diffed against the cache so deletions are not missed.
 */
export function startInformer(client: KubeClient, options: InformerOptions): Informer {
  const store = new Map<string, KubeObject>();
  const stop = new AbortController();
  const watchTimeout = options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS;
  const stallTimeoutMs = options.stallTimeoutMs ?? watchTimeout * 1000 + 30_000;
  const resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((r) => {
    markSynced = r;
  });

  const transform = options.transform ?? ((object: KubeObject) => object);
  const selectors = {
    ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
  };

  const relist = async (): Promise<string> => {
    const { items, resourceVersion } = await client.list(options.resource, selectors);
    const fresh = new Map(items.map((item) => [objectKey(item), transform(item)]));
    const gone = [...store.keys()].filter((key) => !fresh.has(key));
    store.clear();
    for (const [key, item] of fresh) store.set(key, item);
    markSynced();
    for (const [key, item] of fresh) options.onChange(key, item);
    for (const key of gone) options.onChange(key, undefined);
    return resourceVersion;
  };

  const apply = (type: string, received: KubeObject): void => {
    const key = objectKey(received);
    const object = transform(received);
    if (type === 'DELETED') store.delete(key);
    else store.set(key, object);
    options.onChange(key, type === 'DELETED' ? undefined : object);
  };

  const loop = async (): Promise<void> => {
    let attempt = 0;
    let lastWasOutage = false;
    let resourceVersion: string | undefined;
    let listedAt = 0;
    while (!stop.signal.aborted) {
      try {
        if (resourceVersion === undefined || Date.now() - listedAt >= resyncMs) {
          if (resourceVersion !== undefined) options.onRestart?.('resync');
          resourceVersion = await relist();
          listedAt = Date.now();
        }
        const timeoutSeconds = Math.max(1, Math.round(watchTimeout * (0.9 + Math.random() * 0.2)));
        const remaining = resyncMs - (Date.now() - listedAt);
        const watchSignal = AbortSignal.any([stop.signal, AbortSignal.timeout(Math.max(1, remaining))]);
        for await (const event of client.watch(options.resource, {
          resourceVersion,
          timeoutSeconds,
          stallTimeoutMs,
          signal: watchSignal,
          ...selectors,
        })) {
          attempt = 0;
          const version = event.object.metadata?.resourceVersion;
          if (version) resourceVersion = version;
          if (event.type !== 'BOOKMARK') apply(event.type, event.object);
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        if (error instanceof KubeApiError && error.code === 'gone') {
          options.onRestart?.('expired', error);
          resourceVersion = undefined;
          continue;
        }
        const stalled = error instanceof KubeApiError && error.code === 'stalled';
        options.onRestart?.(stalled ? 'stalled' : 'error', error);
        if (stalled) {
          resourceVersion = undefined; // a silent stream may have lost events: relist
          client.resetConnections(); // over a fresh connection: the old one may be half-open
        }
        const outage = !(error instanceof KubeApiError) || RECOVERABLE.has(error.code);
        // The first refusal after an outage comes from an API server that is back (a 403 while its
        // authorizer warms up): the backoff starts over rather than at the outage's length.
        if (!outage && lastWasOutage) attempt = 0;
        lastWasOutage = outage;
        const delay = jitteredBackoff(attempt++, options.backoff ?? DEFAULT_BACKOFF);
        // Unreachable, failing, hanging or still initialising API server: restart as soon as it
        // answers /readyz again, not at the end of a backoff that grew while it was away, and
        // start the backoff over (a just-restarted API server refuses for a moment, 403 or 429,
        // while its caches fill). Other refusals (403, 422) wait the whole backoff.
        if (!outage) await sleep(delay, stop.signal);
        else if (await client.waitForRecovery(delay, stop.signal)) attempt = 0;
      }
    }
  };
  void loop();

  return {
    synced,
    get: (key) => store.get(key),
    values: () => store.values(),
    get size() {
      return store.size;
    },
    stop: () => stop.abort(),
  };
}
