import type { Readable } from 'node:stream';
import { ndjsonLines } from '../ndjson-lines.ts';
import type { stallTimer } from '../stall-timer.ts';
import type { WatchEvent } from './kube-api-types.ts';
import { KubeApiError, kubeErrorFromResponse } from './kube-errors.ts';

/** Longest watch event line accepted; the API server stores objects of at most a few MiB. */
const MAX_WATCH_LINE_BYTES = 16 * 1024 * 1024;

/**
 * The events of a watch response body. An ERROR event becomes its KubeApiError (`gone` for an
 * expired version); a body silent for the stall timeout is `stalled`; a broken one `unavailable`;
 * an aborted one just ends.
 */
export async function* watchEvents(
  body: Readable,
  options: {
    readonly what: string;
    readonly stall: ReturnType<typeof stallTimer>;
    readonly stallTimeoutMs: number;
    readonly signal?: AbortSignal;
  },
): AsyncGenerator<WatchEvent> {
  const { what, stall } = options;
  try {
    for await (const line of ndjsonLines(body, { maxLineBytes: MAX_WATCH_LINE_BYTES, onChunk: stall.arm })) {
      const event = JSON.parse(line) as WatchEvent;
      if (event.type === 'ERROR') {
        const status = event.object as unknown as { code?: number; message?: string };
        throw kubeErrorFromResponse(status.code ?? 500, JSON.stringify(status), what);
      }
      yield event;
    }
  } catch (error) {
    if (error instanceof KubeApiError) throw error;
    if (stall.stalled)
      throw new KubeApiError('stalled', 0, `${what}: silent for ${options.stallTimeoutMs} ms`);
    if (options.signal?.aborted) return;
    throw new KubeApiError('unavailable', 0, `${what}: ${(error as Error).message}`);
  }
}
