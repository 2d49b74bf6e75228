import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import {
  CONFIG_STREAM_PATH,
  HEARTBEAT_MS,
  STREAM_APPLICATION_PARAM,
  STREAM_MEDIA_TYPE,
  streamLine,
} from '../../../contract/config-stream.ts';
import { INJECT_PATH } from '../injection/admission-webhook.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import type { ConfigHub } from './config-hub.ts';
import { sendJson } from './json-response.ts';
import { type SidecarVerifier, StreamRefusal } from './sidecar-identity.ts';

const HEARTBEAT_LINE = streamLine({ type: 'heartbeat' });
const JWKS_PATH = /^\/v1\/jwks\/([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/;

export interface DeliveryServerOptions {
  /** The serving certificate; when absent, set it later with setTls (handshakes fail until then). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** POST /v1/inject, the sidecar injection webhook, when injection is enabled. */
  readonly admission?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly hub: ConfigHub;
  readonly verify: SidecarVerifier;
  readonly metrics: OperatorMetrics;
  readonly heartbeatMs?: number;
}

/**
 * The HTTPS endpoint sidecars read their config from. GET /v1/config is a long-lived NDJSON
 * stream: the current config of the caller's application, then every change, with heartbeats
 * in between so both ends notice a dead connection. GET /v1/jwks/<namespace>/<name> serves an
 * application's public signing keys. POST /v1/inject is the sidecar injection webhook.
 */
export function createDeliveryServer(options: DeliveryServerOptions): {
  server: Server;
  endStreams(): void;
  setTls(cert: string | Buffer, key: string | Buffer): void;
} {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const streams = new Set<ServerResponse>();

  const stream = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const header = req.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    let identity: Awaited<ReturnType<SidecarVerifier>>;
    try {
      identity = await options.verify(token);
      const asked = url.searchParams.get(STREAM_APPLICATION_PARAM);
      if (asked !== null && asked !== identity.application) {
        throw new StreamRefusal(
          'application_mismatch',
          403,
          `this pod serves application ${identity.application}, not ${asked}`,
        );
      }
    } catch (error) {
      if (!(error instanceof StreamRefusal)) throw error;
      options.metrics.streamRefusals.inc({ reason: error.reason });
      sendJson(res, error.status, { error: error.reason, message: error.message });
      return;
    }
    // connection: close — when the stream ends, so does its socket: a sidecar never reconnects
    // over a kept-alive socket to a replica that is shutting down.
    res.writeHead(200, {
      'content-type': STREAM_MEDIA_TYPE,
      'cache-control': 'no-store',
      connection: 'close',
      'x-gatehouse-application': `${identity.namespace}/${identity.application}`,
    });
    res.flushHeaders();
    streams.add(res);
    options.metrics.connectedSidecars.inc();
    const unsubscribe = options.hub.subscribe(`${identity.namespace}/${identity.application}`, (line) => {
      res.write(line);
    });
    const heartbeat = setInterval(() => res.write(HEARTBEAT_LINE), heartbeatMs);
    const close = (): void => {
      if (!streams.delete(res)) return;
      clearInterval(heartbeat);
      unsubscribe();
      options.metrics.connectedSidecars.dec();
    };
    res.on('close', close);
    req.on('close', close);
  };

  const server = createServer({ ...options.tls, minVersion: 'TLSv1.2' }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://operator.invalid');
    if (req.method === 'POST' && url.pathname === INJECT_PATH && options.admission) {
      options.admission(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: (error as Error).message });
        else res.destroy();
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === CONFIG_STREAM_PATH) {
      stream(req, res, url).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: (error as Error).message });
        else res.destroy();
      });
      return;
    }
    const jwks = req.method === 'GET' ? JWKS_PATH.exec(url.pathname) : null;
    if (jwks) {
      const published = options.hub.get(`${jwks[1]}/${jwks[2]}`);
      if (!published)
        return sendJson(res, 404, { error: 'not_found', message: 'no such application, or it is not ready' });
      res.writeHead(200, {
        'content-type': 'application/jwk-set+json',
        'cache-control': 'public, max-age=300',
      });
      res.end(published.jwks);
      return;
    }
    sendJson(res, 404, { error: 'not_found', message: 'no such endpoint' });
  });
  return {
    server,
    /** Ends every stream, so sidecars reconnect (to another replica during a rollout). */
    endStreams() {
      for (const res of streams) res.end();
    },
    /** Presents a new certificate to new connections; open ones keep theirs. */
    setTls(cert, key) {
      server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    },
  };
}
