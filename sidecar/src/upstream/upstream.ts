import { Pool } from 'undici';
import type { SidecarConfig } from '../config/sidecar-config.ts';

type UpstreamSettings = SidecarConfig['upstream'];

/** Keep-alive connections idle longer than this are closed; below the 5 s default of most app servers. */
export const UPSTREAM_KEEP_ALIVE_MS = 4_000;

/** A keep-alive connection pool to the application, plus the settings it was built from. */
export interface Upstream {
  readonly settings: UpstreamSettings;
  readonly pool: Pool;
  /** Closes the pool once requests already dispatched have finished. */
  retire(): void;
}

/** Opens a pool for the upstream origin with Gatehouse's timeouts (tighter than Node.js defaults). */
export function createUpstream(settings: UpstreamSettings): Upstream {
  const pool = new Pool(settings.origin, {
    connections: settings.maxConnections,
    pipelining: 1,
    connectTimeout: settings.connectTimeoutMs,
    headersTimeout: settings.responseHeadersTimeoutMs,
    bodyTimeout: settings.idleTimeoutMs,
    keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS,
    keepAliveMaxTimeout: UPSTREAM_KEEP_ALIVE_MS,
  });
  return {
    settings,
    pool,
    retire() {
      pool.close().catch(() => undefined);
    },
  };
}

/** True when two configs would build identical pools, so the pool (and its warm connections) can be kept. */
export function sameUpstreamSettings(a: UpstreamSettings, b: UpstreamSettings): boolean {
  return (
    a.origin === b.origin &&
    a.connectTimeoutMs === b.connectTimeoutMs &&
    a.responseHeadersTimeoutMs === b.responseHeadersTimeoutMs &&
    a.idleTimeoutMs === b.idleTimeoutMs &&
    a.maxConnections === b.maxConnections
  );
}
