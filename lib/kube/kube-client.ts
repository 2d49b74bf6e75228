import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { requestOn } from '../http/undici-core.ts';
import { stallTimer } from '../stall-timer.ts';
import type { KubeConnection } from './connection.ts';
import type { ListResult, WatchEvent, WatchOptions } from './kube-api-types.ts';
import { KubeApiError, kubeErrorFromResponse } from './kube-errors.ts';
import type { KubeObject } from './kube-object.ts';
import { RecoveryWait } from './recovery-wait.ts';
import { apiVersionOf, collectionPath, objectPath, PODS, type ResourceType } from './resource-types.ts';
import { watchEvents } from './watch-events.ts';

export const FIELD_MANAGER = 'gatehouse-operator';
const REQUEST_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_INTERVAL_MS = 250;

type Query = Record<string, string | undefined>;

/** A small typed client for the Kubernetes REST API: reads, server-side apply, creates and watch streams. */
export class KubeClient {
  readonly #connection: KubeConnection;
  readonly #fieldManager: string;
  readonly #recovery = new RecoveryWait(() => this.ready(), PROBE_INTERVAL_MS);

  constructor(connection: KubeConnection, options: { fieldManager?: string } = {}) {
    this.#connection = connection;
    this.#fieldManager = options.fieldManager ?? FIELD_MANAGER;
  }

  #url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const qs = params.toString();
    return `${this.#connection.server}${path}${qs ? `?${qs}` : ''}`;
  }

  #headers(contentType?: string): Record<string, string | string[]> {
    const token = this.#connection.token();
    const as = this.#connection.impersonate;
    return {
      accept: 'application/json',
      ...(contentType ? { 'content-type': contentType } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(as ? { 'impersonate-user': as.user } : {}),
      ...(as?.groups.length ? { 'impersonate-group': [...as.groups] } : {}),
    };
  }

  /** Sends one request; rejects with a KubeApiError when it fails or the API server refuses. */
  async #send(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    what: string,
    options: {
      query?: Query;
      body?: unknown;
      contentType?: string;
      accept?: string;
      timeoutMs?: number;
      signal?: AbortSignal;
    } = {},
  ): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await requestOn(this.#connection.dispatcher, new URL(this.#url(path, options.query)), {
        method,
        headers: {
          ...this.#headers(
            options.body === undefined ? undefined : (options.contentType ?? 'application/json'),
          ),
          ...(options.accept ? { accept: options.accept } : {}),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        headersTimeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
        bodyTimeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw new KubeApiError('unavailable', 0, `${what}: ${(error as Error).message}`);
    }
    if (response.statusCode >= 300)
      throw kubeErrorFromResponse(response.statusCode, await response.body.text(), what);
    return response;
  }

  async #call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    what: string,
    options: { query?: Query; body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const response = await this.#send(method, path, what, options);
    return JSON.parse(await response.body.text()) as T;
  }

  /** Whether the API server answers GET /readyz with 200 now (readable by every user, even anonymous). */
  ready(): Promise<boolean> {
    return this.#send('GET', '/readyz', 'readyz', { timeoutMs: PROBE_TIMEOUT_MS }).then(
      (response) => response.body.dump().then(() => true),
      () => false,
    );
  }

  /** Waits ms before a retry after the API server failed, or less: until /readyz answers again (true). */
  waitForRecovery(ms: number, signal?: AbortSignal): Promise<boolean> {
    return this.#recovery.wait(ms, signal);
  }

  /** Drops pooled connections (see KubeConnection.reset). */
  resetConnections(): void {
    this.#connection.reset();
  }

  /** Reads one object; undefined when it does not exist. */
  async get(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.#call<KubeObject>(
        'GET',
        objectPath(resource, namespace, name),
        `get ${resource.kind} ${namespace ?? ''}/${name}`,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  /** The API server's version (GET /version, readable by every authenticated user). */
  version(): Promise<{ major: string; minor: string; gitVersion: string }> {
    return this.#call('GET', '/version', 'get version');
  }

  /** Lists objects (all namespaces when namespace is undefined), with the list's resourceVersion to watch from. */
  async list(
    resource: ResourceType,
    options: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<ListResult> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const page = await this.#call<{
        items: KubeObject[];
        metadata: { resourceVersion: string; continue?: string };
      }>('GET', collectionPath(resource, options.namespace), `list ${resource.kind}`, {
        query: {
          limit: '500',
          continue: next,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
        },
      });
      for (const item of page.items)
        items.push({ apiVersion: apiVersionOf(resource), kind: resource.kind, ...item });
      resourceVersion = page.metadata.resourceVersion;
      next = page.metadata.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  /** Server-side apply of the fields Gatehouse owns, under one field manager; force takes over conflicting fields. */
  apply(resource: ResourceType, object: KubeObject, subresource?: 'status'): Promise<KubeObject> {
    const { name, namespace } = object.metadata;
    return this.#call(
      'PATCH',
      objectPath(resource, namespace, name, subresource),
      `apply ${resource.kind} ${namespace ?? ''}/${name}${subresource ? `/${subresource}` : ''}`,
      {
        query: { fieldManager: this.#fieldManager, force: 'true' },
        body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...object },
        contentType: 'application/apply-patch+yaml',
      },
    );
  }

  /** Creates an object; fails with code conflict when it exists. */
  create<T = KubeObject>(resource: ResourceType, namespace: string | undefined, body: object): Promise<T> {
    return this.#call('POST', collectionPath(resource, namespace), `create ${resource.kind}`, {
      query: { fieldManager: this.#fieldManager },
      body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...body },
    });
  }

  /** Replaces an object; its metadata.resourceVersion makes this a compare-and-swap (conflict when stale). */
  replace(resource: ResourceType, object: KubeObject): Promise<KubeObject> {
    const { name, namespace } = object.metadata;
    return this.#call(
      'PUT',
      objectPath(resource, namespace, name),
      `replace ${resource.kind} ${namespace ?? ''}/${name}`,
      {
        query: { fieldManager: this.#fieldManager },
        body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...object },
      },
    );
  }

  /** Deletes an object; a missing object is not an error. */
  async delete(resource: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.#call(
        'DELETE',
        objectPath(resource, namespace, name),
        `delete ${resource.kind} ${namespace ?? ''}/${name}`,
      );
    } catch (error) {
      if (!(error instanceof KubeApiError && error.code === 'not_found')) throw error;
    }
  }

  /** Streams a container's log (or its previous instance's) as the kubelet sends it; KubeApiError when refused. */
  async podLog(
    namespace: string,
    pod: string,
    options: {
      container: string;
      sinceTime?: string;
      previous?: boolean;
      /** Each line after the kubelet's RFC 3339 time of it and a space. */
      timestamps?: boolean;
      /** Aborts the request, and the stream once it flows. */
      signal?: AbortSignal;
    },
  ): Promise<Readable> {
    const response = await this.#send(
      'GET',
      `${objectPath(PODS, namespace, pod)}/log`,
      `log of ${namespace}/${pod} container ${options.container}`,
      {
        query: {
          container: options.container,
          sinceTime: options.sinceTime,
          previous: options.previous ? 'true' : undefined,
          timestamps: options.timestamps ? 'true' : undefined,
        },
        accept: '*/*',
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    return response.body as Readable;
  }

  /**
   * Opens a watch from a resourceVersion and yields its events. Ends when the server ends the
   * stream; throws KubeApiError `stalled` when no byte arrives within stallTimeoutMs, `gone`
   * when the version is too old.
   */
  async *watch(resource: ResourceType, options: WatchOptions): AsyncGenerator<WatchEvent> {
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const stall = stallTimer(options.stallTimeoutMs, abort);
    stall.arm();
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await requestOn(
          this.#connection.dispatcher,
          new URL(
            this.#url(collectionPath(resource, options.namespace), {
              watch: '1',
              allowWatchBookmarks: 'true',
              resourceVersion: options.resourceVersion,
              timeoutSeconds: String(options.timeoutSeconds),
              labelSelector: options.labelSelector,
              fieldSelector: options.fieldSelector,
            }),
          ),
          {
            method: 'GET',
            headers: this.#headers(),
            signal: abort.signal,
            headersTimeout: 0,
            bodyTimeout: 0,
          },
        );
      } catch (error) {
        if (stall.stalled)
          throw new KubeApiError(
            'stalled',
            0,
            `watch ${resource.kind}: no answer in ${options.stallTimeoutMs} ms`,
          );
        throw new KubeApiError('unavailable', 0, `watch ${resource.kind}: ${(error as Error).message}`);
      }
      if (response.statusCode >= 300)
        throw kubeErrorFromResponse(
          response.statusCode,
          await response.body.text(),
          `watch ${resource.kind}`,
        );
      stall.arm();
      yield* watchEvents(response.body as Readable, {
        what: `watch ${resource.kind}`,
        stall,
        stallTimeoutMs: options.stallTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      stall.clear();
      options.signal?.removeEventListener('abort', onAbort);
      abort.abort();
    }
  }
}
