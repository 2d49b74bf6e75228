import { createServer, type Server } from 'node:http';
import type { Registry } from './metrics/prom-core.ts';

/** What the admin port reports on (the sidecar: a valid config loaded and not draining; the operator: caches synced and a serving certificate). */
export interface Health {
  ready(): boolean;
}

/** Serves /metrics, /healthz and /readyz on a port apart from traffic, so they are never proxied or exposed. */
export function createAdminServer(metrics: { readonly registry: Registry }, health: Health): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = health.ready();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
