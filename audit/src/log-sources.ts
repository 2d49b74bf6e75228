import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  APPLICATION_KEY,
  hasSidecarContainer,
  type PodContainers,
  SIDECAR_CONTAINER,
  sidecarContainerStatus,
} from '../../contract/injection.ts';
import { UsageError } from '../../lib/args.ts';
import type { KubeClient } from '../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../lib/kube/kube-object.ts';
import { PODS } from '../../lib/kube/resource-types.ts';
import { jsonArraysAsLines } from './json-array-lines.ts';
import { rotationSeries } from './rotated-logs.ts';
import { utf8Chunks } from './text-encoding.ts';

/**
 * Whether a source's lines are in the order they were written: `written` (one sidecar's own
 * stream, as the kubelet serves it), `check` (a file: read it once to see, since files are often
 * several sidecars concatenated), `unknown` (standard input, which cannot be read twice).
 */
export type SourceOrder = 'written' | 'check' | 'unknown';

/** One stream of log lines and where it came from (for messages). */
export interface LogSource {
  readonly name: string;
  readonly order: SourceOrder;
  /**
   * A source the answer can go without, said so (a pod's log: the pod may be gone, or its node
   * unreachable, by the time it is read among hundreds): one that cannot be read, or fails while
   * read, is named in a warning and makes the answer partial, where a file given that cannot be
   * read fails the audit.
   */
  readonly optional?: boolean;
  /** A new stream from the start (a source in `check` order is opened twice). */
  open(): Promise<AsyncIterable<Buffer | string>>;
}

const MAX_READ_CHUNK_BYTES = 1024 * 1024;
const MIN_READ_CHUNK_BYTES = 64 * 1024;
/** What the files read at once hold in read chunks, together (each also holds its chunk's records). */
const READ_BUDGET_BYTES = 16 * 1024 * 1024;

/**
 * The read chunk of each of `openAtOnce` files read at the same time: 1 MiB for a few files, less
 * for many, so that their chunks together stay within 16 MiB (down to 64 KiB each). Chunks are
 * garbage once read, and V8 frees them only with the objects that held them: with 4 MiB chunks
 * the 24 files of a 1M-line corpus peaked at 1.1 GB, with 680 KiB at about half that, in the same
 * time (docs/benchmarks.md, "Audit").
 */
export function fileReadChunkBytes(openAtOnce: number): number {
  const share = Math.floor(READ_BUDGET_BYTES / Math.max(1, openAtOnce));
  return Math.min(MAX_READ_CHUNK_BYTES, Math.max(MIN_READ_CHUNK_BYTES, share));
}

/**
 * The files the arguments name: a directory stands for every file under it (a directory of
 * rotated logs, a file per pod and hour), in path order; anything else is left as given, to fail
 * when opened if it cannot be. A directory without files is a usage error.
 */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const isDirectory = path !== '-' && (await stat(path).catch(() => undefined))?.isDirectory();
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    const inside = entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    if (inside.length === 0) throw new UsageError(`${path} is a directory without files`);
    files.push(...inside);
  }
  return files;
}

/** Errors of a gzip stream that ends early: the lines before the cut are still good. */
export const TRUNCATED_CODES: ReadonlySet<string> = new Set([
  'Z_BUF_ERROR',
  'Z_DATA_ERROR',
  'ERR_STREAM_PREMATURE_CLOSE',
  'GATEHOUSE_FILES_CUT',
]);

/**
 * Thrown at the end of a rotation series read whole when some of its files ended early (a `.gz`
 * cut short): the lines before each cut and every later file were read.
 */
export class FilesCutError extends Error {
  readonly code = 'GATEHOUSE_FILES_CUT';
  readonly cuts: readonly { readonly file: string; readonly reason: string }[];
  constructor(cuts: readonly { readonly file: string; readonly reason: string }[]) {
    super(cuts.map((cut) => `${cut.file}: ${cut.reason}`).join('; '));
    this.name = 'FilesCutError';
    this.cuts = cuts;
  }
}

/** A file of JSON lines; `.gz` files are decompressed; `-` is standard input. */
export function fileSource(path: string): LogSource {
  return sizedFileSource(path, MAX_READ_CHUNK_BYTES);
}

/**
 * Files read together (see fileSource), each with a read chunk sized to how many of them are read
 * at once (`openAtOnce`, at most all of them). The files of one kubelet rotation series
 * (`0.log.<time>.gz`, ..., `0.log`) are one source, read oldest first (rotated-logs.ts).
 */
export function fileSources(paths: readonly string[], openAtOnce = paths.length): LogSource[] {
  const groups = rotationSeries(paths);
  const chunkBytes = fileReadChunkBytes(Math.min(groups.length, openAtOnce));
  return groups.map((group) =>
    group.length === 1 ? sizedFileSource(group[0] as string, chunkBytes) : seriesSource(group, chunkBytes),
  );
}

/**
 * A file's bytes, decompressed when it is a `.gz`, as UTF-8 (text-encoding.ts). The two streams
 * of a `.gz` are joined by pipeline, so that the file's own errors (not found, unreadable) reach
 * the reader of the decompressed bytes: piped, they were thrown as an unhandled error and the
 * audit ended with a stack trace. The file is opened when its first chunk is asked for.
 */
async function* openFile(path: string, chunkBytes: number): AsyncGenerator<Buffer | string> {
  const raw: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: chunkBytes });
  if (!path.endsWith('.gz')) {
    yield* jsonArraysAsLines(utf8Chunks(raw));
    return;
  }
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  // Errors reach the reader through gunzip; an early stop of the reader closes the file.
  pipeline(raw, gunzip, () => undefined);
  yield* jsonArraysAsLines(utf8Chunks(gunzip));
}

function sizedFileSource(path: string, chunkBytes: number): LogSource {
  return {
    name: path === '-' ? '(stdin)' : path,
    order: path === '-' ? 'unknown' : 'check',
    async open() {
      return openFile(path, chunkBytes);
    },
  };
}

const NEWLINE = Buffer.from('\n');

/** A rotation series read as one stream, one file open at a time. */
function seriesSource(files: readonly string[], chunkBytes: number): LogSource {
  const last = files[files.length - 1] as string;
  return {
    name: `${last} (with ${files.length - 1} rotated before it)`,
    order: 'check',
    async open() {
      return readSeries(files, chunkBytes);
    },
  };
}

async function* readSeries(files: readonly string[], chunkBytes: number): AsyncGenerator<Buffer | string> {
  const cuts: { file: string; reason: string }[] = [];
  for (const file of files) {
    const stream = openFile(file, chunkBytes);
    let endsLine = true;
    try {
      for await (const chunk of stream) {
        if (chunk.length === 0) continue;
        endsLine = typeof chunk === 'string' ? chunk.endsWith('\n') : chunk[chunk.length - 1] === NEWLINE[0];
        yield chunk;
      }
    } catch (error) {
      if (!TRUNCATED_CODES.has((error as { code?: string }).code ?? '')) throw error;
      cuts.push({ file, reason: (error as Error).message });
      endsLine = false;
    }
    // A file cut mid-line: its last line ends there, not in the next file's first.
    if (!endsLine) yield NEWLINE;
  }
  if (cuts.length > 0) throw new FilesCutError(cuts);
}

/** How often the pod's sidecar container restarted, from its status. */
function restarts(pod: KubeObject): number {
  return sidecarContainerStatus(pod)?.restartCount ?? 0;
}

/**
 * The logs of every Gatehouse sidecar in the cluster (or one namespace), through the API server:
 * every pod labelled with an application, container `gatehouse` (and its previous instance when it
 * restarted). Needs list on pods and get on pods/log.
 */
export async function clusterSources(
  client: KubeClient,
  options: { namespace?: string; sinceTime?: string },
): Promise<LogSource[]> {
  const { items } = await client.list(PODS, {
    ...(options.namespace ? { namespace: options.namespace } : {}),
    labelSelector: APPLICATION_KEY,
  });
  const withSidecar = items.filter((pod) => hasSidecarContainer(pod as PodContainers));
  return withSidecar.flatMap((pod) => {
    const namespace = pod.metadata.namespace ?? '';
    const name = pod.metadata.name;
    const source = (previous: boolean): LogSource => ({
      name: `pod ${namespace}/${name}${previous ? ' (previous instance)' : ''}`,
      order: 'written',
      optional: true,
      open: () =>
        client.podLog(namespace, name, {
          container: SIDECAR_CONTAINER,
          ...(options.sinceTime ? { sinceTime: options.sinceTime } : {}),
          ...(previous ? { previous: true } : {}),
        }),
    });
    // A sidecar that restarted left its earlier lines with the kubelet: read those too.
    return restarts(pod) > 0 ? [source(true), source(false)] : [source(false)];
  });
}
