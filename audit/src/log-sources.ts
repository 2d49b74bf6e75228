import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SIDECAR_CONTAINER } from '../../operator/src/injection/opt-in.ts';
import type { KubeClient } from '../../operator/src/kube/kube-client.ts';
import { APPLICATION_LABEL } from '../../operator/src/kube/kube-object.ts';
import { PODS } from '../../operator/src/kube/resource-types.ts';

/** One stream of log lines and where it came from (for messages). */
export interface LogSource {
  readonly name: string;
  open(): Promise<AsyncIterable<Buffer | string>>;
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** A file of JSON lines; `.gz` files are decompressed; `-` is standard input. */
export function fileSource(path: string): LogSource {
  return {
    name: path === '-' ? '(stdin)' : path,
    async open() {
      const raw: Readable =
        path === '-' ? process.stdin : createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
      return path.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: READ_CHUNK_BYTES })) : raw;
    },
  };
}

/**
 * The logs of every Gatehouse sidecar in the cluster (or one namespace), through the API server:
 * every pod labelled with an application, container `gatehouse`. Needs list on pods and get on
 * pods/log.
 */
export async function clusterSources(
  client: KubeClient,
  options: { namespace?: string; sinceTime?: string },
): Promise<LogSource[]> {
  const { items } = await client.list(PODS, {
    ...(options.namespace ? { namespace: options.namespace } : {}),
    labelSelector: APPLICATION_LABEL,
  });
  const withSidecar = items.filter((pod) => {
    const spec = pod.spec as
      | { containers?: { name: string }[]; initContainers?: { name: string }[] }
      | undefined;
    return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].some(
      (c) => c.name === SIDECAR_CONTAINER,
    );
  });
  return withSidecar.map((pod) => {
    const namespace = pod.metadata.namespace ?? '';
    const name = pod.metadata.name;
    return {
      name: `pod ${namespace}/${name}`,
      open: () =>
        client.podLog(namespace, name, {
          container: SIDECAR_CONTAINER,
          ...(options.sinceTime ? { sinceTime: options.sinceTime } : {}),
        }),
    };
  });
}
