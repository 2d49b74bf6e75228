import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ControlPlane } from './control-plane.ts';
import { selfSignedCertificate } from './tls.ts';

/** The container whose log the API server asks the kubelet for (pods/log), and the query it passes on. */
export interface LogAsked {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly query: URLSearchParams;
}

/**
 * The test API server has no nodes: a Node object points it at this stand-in kubelet on loopback,
 * which serves /containerLogs; the API server's side (pod lookup, container check, proxying,
 * authorization) is the real one.
 */
export interface StandInKubelet {
  /** The path and query of every request the API server sent it, in order. */
  readonly asked: string[];
  close(): void;
}

/**
 * Starts a stand-in kubelet that answers each container log request with `serve`, and registers
 * Node `node-1` at it (pods with `nodeName: node-1` have their logs read there).
 */
export async function startStandInKubelet(
  cluster: ControlPlane,
  serve: (asked: LogAsked, res: ServerResponse, req: IncomingMessage) => void,
): Promise<StandInKubelet> {
  const tls = selfSignedCertificate();
  const asked: string[] = [];
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    asked.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!match) {
      res.writeHead(404).end('not a container log');
      return;
    }
    const [, namespace = '', pod = '', container = ''] = match;
    serve({ namespace, pod, container, query: url.searchParams }, res, req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }),
  );
  await cluster.kubectl([
    'patch',
    'node',
    'node-1',
    '--subresource=status',
    '--type=merge',
    `-p=${JSON.stringify({
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
      },
    })}`,
  ]);
  return { asked, close: () => server.close() };
}

/** Sets a pod's sidecar container status, as the kubelet reports a native sidecar. */
export function setSidecarStatus(
  cluster: ControlPlane,
  namespace: string,
  pod: string,
  status: { readonly running: boolean; readonly ready?: boolean; readonly restartCount?: number },
): Promise<string> {
  return cluster.kubectl([
    'patch',
    'pod',
    pod,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    `-p=${JSON.stringify({
      status: {
        initContainerStatuses: [
          {
            name: 'gatehouse',
            ready: status.ready ?? status.running,
            restartCount: status.restartCount ?? 0,
            image: 'gatehouse:1',
            imageID: '',
            state: status.running ? { running: {} } : { waiting: { reason: 'CrashLoopBackOff' } },
          },
        ],
      },
    })}`,
  ]);
}
