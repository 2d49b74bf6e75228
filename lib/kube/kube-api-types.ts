import type { KubeObject } from './kube-object.ts';

/** One event of a watch stream. */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject;
}

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
}

export interface WatchOptions {
  readonly namespace?: string;
  readonly resourceVersion: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** The API server ends the watch after this many seconds; the caller then resumes from the last version. */
  readonly timeoutSeconds: number;
  /** Longest silence tolerated on the stream before it is treated as stalled. */
  readonly stallTimeoutMs: number;
  readonly signal?: AbortSignal;
}
