import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  type AdminConnectionLimits,
  DEFAULT_ADMIN_CONNECTION_LIMITS,
  guardAdminConnections,
} from './admin-connections.ts';
import { Counter, type Registry } from './metrics/prom-core.ts';
import { normaliseIp } from './net/client-ip.ts';
import { createScrapeRate, DEFAULT_SCRAPE_RATE_LIMITS, type ScrapeRateLimits } from './scrape-rate.ts';

/** What the admin port reports on (the sidecar: a valid config loaded and not draining; the operator: caches synced and a serving certificate). */
export interface Health {
  ready(): boolean;
}

/**
 * Time limits of an admin connection: its request head within 5 s (a probe or a scrape sends it at
 * once), its whole request within 10 s, and no more than 10 s without a byte moving either way (a
 * client that stops reading its /metrics answer).
 */
const ADMIN_HEADERS_TIMEOUT_MS = 5_000;
const ADMIN_REQUEST_TIMEOUT_MS = 10_000;
const ADMIN_IDLE_TIMEOUT_MS = 10_000;
/** Request heads of probes and scrapes are a few hundred bytes. */
const ADMIN_MAX_HEADER_BYTES = 8 * 1024;

/**
 * Serves /metrics, /healthz and /readyz on a port apart from traffic, so they are never proxied or
 * exposed. The port is reachable from the pod network (the kubelet and Prometheus need it), so it
 * is held to the limits above, to a connection share per peer address (admin-connections.ts) and
 * to a rate of /metrics renders (scrape-rate.ts).
 */
export function createAdminServer(
  metrics: { readonly registry: Registry },
  health: Health,
  limits: AdminConnectionLimits = DEFAULT_ADMIN_CONNECTION_LIMITS,
  scrapeLimits: ScrapeRateLimits = DEFAULT_SCRAPE_RATE_LIMITS,
): Server {
  const scrapes = createScrapeRate(scrapeLimits);
  const refusedScrapes = new Counter({
    name: 'gatehouse_admin_scrapes_refused_total',
    help: 'Requests for /metrics answered 429: their address, or all addresses together, asked for more renders in a second than the admin port makes (5 and 20).',
    registers: [metrics.registry],
  });
  // Scrapes that arrive while one renders get the same text.
  let rendering: Promise<string> | null = null;
  const render = (): Promise<string> => {
    rendering ??= metrics.registry.metrics().finally(() => {
      rendering = null;
    });
    return rendering;
  };
  const closed = new Counter({
    name: 'gatehouse_admin_connections_closed_total',
    help: 'Admin port connections closed on accept: peer_limit (that address held its share), evicted (an idle connection made room), full (every connection busy).',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
  const server = createServer(
    {
      headersTimeout: ADMIN_HEADERS_TIMEOUT_MS,
      requestTimeout: ADMIN_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: ADMIN_MAX_HEADER_BYTES,
    },
    (req, res) => {
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
        if (!scrapes.allow(normaliseIp(req.socket.remoteAddress ?? ''), performance.now())) {
          refusedScrapes.inc();
          res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('too many scrapes\n');
          return;
        }
        render().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    },
  );
  server.setTimeout(ADMIN_IDLE_TIMEOUT_MS, (socket: Socket) => socket.destroy());
  guardAdminConnections(server, limits, (reason) => closed.inc({ reason }));
  return server;
}
