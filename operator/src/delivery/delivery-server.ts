import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  ACCEPTS_REVOCATION_CHANGES,
  CONFIG_STREAM_PATH,
  HEARTBEAT_MS,
  readStreamLine,
  STREAM_ACCEPTS_HEADER,
  STREAM_APPLICATION_PARAM,
  STREAM_MEDIA_TYPE,
  streamLine,
} from '../../../contract/config-stream.ts';
import { SESSION_ENDS_PATH, type SessionEnd } from '../../../contract/session-ends.ts';
import { BodyBudget, type BodyHold } from '../../../lib/body-budget.ts';
import { ConcurrentShare } from '../../../lib/concurrent-share.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { gateConnections } from '../../../lib/net/connection-gate.ts';
import { tlsConnectionReset } from '../../../lib/net/connection-reset.ts';
import { limitConnectionRatePerPeer, limitConnectionsPerPeer } from '../../../lib/net/peer-connections.ts';
import { type TokenBucketRate, TokenBuckets } from '../../../lib/token-buckets.ts';
import { INJECT_PATH } from '../injection/admission-webhook.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { type ConfigHub, notFoundLine } from './config-hub.ts';
import { sendJson, sendRefusal } from './json-response.ts';
import type { PodWaitingEvents } from './pod-waiting-events.ts';
import { type RecordSessionEnd, SESSION_END_RATE, sessionEndsRoute } from './session-ends-route.ts';
import {
  REVIEW_BOUND_MS,
  type SidecarIdentity,
  type SidecarVerifier,
  StreamRefusal,
} from './sidecar-identity.ts';

/**
 * Requests being verified at once (TokenReview, Pod check), in all and from one client address;
 * more are answered 503 busy. A sidecar sends one at a time; without a share per address, one
 * client with made-up tokens held all 256 and every sidecar reconnecting met 503.
 */
const MAX_VERIFYING = 256;
export const VERIFYING_PER_PEER = 16;
/**
 * The port is on the pod network, where any pod can reach it. A sidecar holds one stream and now
 * and then a second connection; the API server calls the injection webhook over a few. Before
 * these bounds a client that opened connections and sent nothing held each until Node's TLS
 * handshake timeout (2 minutes): 3,000 from one address all held.
 */
export const DELIVERY_CONNECTIONS_PER_PEER = 256;
/**
 * New connections one address may open: twice its share at once, then 64 a second; past that a
 * connection is reset as it is accepted, before its TLS handshake. A handshake costs the operator
 * about 0.9 ms of CPU and a client replaying a captured ClientHello a quarter of that: before
 * this rate one client made the operator spend 3.4 to 3.7 times its own CPU, now 0.8 times
 * (bench/delivery-port-hostile.ts). The API server opens a new webhook connection only when its
 * pool has no idle one, and a sidecar one per reconnect, far under the rate.
 */
export const DELIVERY_OPENS_PER_PEER: TokenBucketRate = { burst: 512, perSecond: 64 };
export const DELIVERY_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DELIVERY_HEADERS_TIMEOUT_MS = 10_000;
/**
 * A whole request (head and body) is due within this time: the API server's longest webhook
 * timeout. Node's default, 5 minutes, let a trickled body hold its memory that long.
 */
export const DELIVERY_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Request bodies (AdmissionReviews of up to 8 MiB, session ends) held in memory at once, per
 * client address and in all. Before this bound, 40 connections from one address, each sending
 * an AdmissionReview of 8 MiB less a byte, held 320 MiB until the request timeout, and sixty got
 * the server killed in a 512 MiB memory cgroup; past it, a body is answered 503 with Retry-After,
 * and what still comes of it is read and dropped.
 */
export const DELIVERY_BODY_BYTES_PER_PEER = 24 * 1024 * 1024;
export const DELIVERY_BODY_BYTES = 96 * 1024 * 1024;
/**
 * A config stream whose sidecar has left unread more than the largest line sent on it plus this
 * much is more than a whole config behind: it is cut (`slow_reader`), and the sidecar, once it
 * reads again, reconnects and gets the current config. Before, a stream that was not read (a
 * stopped sidecar, a zero window) kept every config and heartbeat in the operator's memory.
 */
export const STREAM_SLACK_BYTES = 1024 * 1024;
/**
 * Config streams one Pod may hold at once: its sidecar's, and the one that stream replaces (a
 * sidecar that reconnects closes its old connection first, but the operator may learn of that
 * close later than of the new stream, or never, across a broken network). A further stream cuts
 * the Pod's oldest at once. Before, one Pod's token held as many streams as its address had
 * connections (256), each keeping a whole config unread in the operator: 250 of a 1.27 MB config
 * (8,000 session ends) took it from 60 to 390 MiB, and held 222 MiB more in kernel send queues
 * (bench/delivery-port-hostile.ts).
 */
export const STREAMS_PER_POD = 2;
/**
 * Config streams one Pod may open: a burst of 20, refilled at one a second. A sidecar opens one
 * at start, at each token refresh (hourly) and when its stream breaks; each costs the operator a
 * TLS handshake, a token check and a whole config written. Before, one Pod's token opened 3,427
 * streams in 8 s over 16 connections (a config of 1.27 MB) and kept the operator's thread busy
 * (7.9 s of CPU in those 8 s; 5.8 s with this bound, the TLS handshakes). Past it, 429 `too_many_streams` with Retry-After.
 */
export const STREAM_OPEN_RATE: TokenBucketRate = { burst: 20, perSecond: 1 };
/** A stream the operator ended is cut this long after, if its sidecar has not read to the end. */
export const STREAM_END_GRACE_MS = 10_000;
const HEARTBEAT_LINE = streamLine({ type: 'heartbeat' });
/** How the lines that tell a pod's sidecar it waits, or give it its config, begin (streamLine writes `type` first). */
const WAITING_LINE_START = '{"type":"waiting"';
const CONFIG_LINE_START = '{"type":"config"';
const JWKS_PATH = /^\/v1\/jwks\/([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/;
const peerOf = (req: IncomingMessage): string => normaliseIp(req.socket.remoteAddress ?? '');
const INTERNAL = { status: 500, error: 'internal' } as const;
const UNAVAILABLE = { status: 503, error: 'unavailable' } as const;

/** A route that throws is answered with `failure`, or cut if its answer had begun. */
function settle(res: ServerResponse, route: Promise<void>, failure: { status: number; error: string }): void {
  route.catch((error: unknown) => {
    if (!res.headersSent)
      sendJson(res, failure.status, { error: failure.error, message: (error as Error).message });
    else res.destroy();
  });
}

export interface DeliveryServerOptions {
  /** The serving certificate; when absent, set it later with setTls (handshakes fail until then). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** POST /v1/inject, the sidecar injection webhook, when injection is enabled; its body takes from `hold`. */
  readonly admission?: (req: IncomingMessage, res: ServerResponse, hold: BodyHold) => Promise<void>;
  readonly hub: ConfigHub;
  /**
   * True when the operator knows for sure that no AccessApplication of that key exists (its
   * caches synced): a stream for it is told so at once instead of waiting in silence.
   */
  readonly applicationMissing?: (key: string) => boolean;
  readonly verify: SidecarVerifier;
  readonly metrics: OperatorMetrics;
  readonly heartbeatMs?: number;
  /**
   * POST /v1/session-ends: `record` writes the AccessRevocation of a session a sidecar ended;
   * `covering` counts the AccessRevocations that cover an application now.
   */
  readonly sessionEnds?: {
    readonly record: RecordSessionEnd;
    readonly covering: (application: string) => number;
    /** Session ends in force for the application that name this account (SESSION_ENDS_PER_ACCOUNT). */
    readonly coveringAccount?: (application: string, account: string) => number;
    /** The name of this end's AccessRevocation when it exists already (an end sent again). */
    readonly recorded?: (application: string, end: SessionEnd) => string | undefined;
  };
  /** Events on the Pods whose sidecars are told they wait, and then get their config. */
  readonly podEvents?: PodWaitingEvents;
  /** How often an open stream's token is reviewed again (default REVIEW_BOUND_MS). */
  readonly reviewBoundMs?: number;
}

/**
 * The HTTPS endpoint sidecars read their config from. GET /v1/config is a long-lived NDJSON
 * stream: the current config of the caller's application, then every change, with heartbeats
 * in between so both ends notice a dead connection. GET /v1/jwks/<namespace>/<name> serves an
 * application's public signing keys. POST /v1/session-ends records a session a sidecar ended
 * (sign-out, logout from the provider) for every sidecar of its application. POST /v1/inject is the
 * sidecar injection webhook.
 */
export function createDeliveryServer(options: DeliveryServerOptions): {
  /** What listens: a TCP front that admits connections to the TLS server (listen and address here). */
  server: NetServer;
  /** Stops listening and cuts every connection. */
  close(): void;
  endStreams(): void;
  podChanged(key: string, pod: KubeObject | undefined): void;
  setTls(cert: string | Buffer, key: string | Buffer): void;
} {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const reviewBoundMs = options.reviewBoundMs ?? REVIEW_BOUND_MS;
  /** Open streams: the pod each serves (namespace/name and uid), and how to stop writing to it. */
  const streams = new Map<
    ServerResponse,
    { readonly pod: string; readonly podUid: string; readonly socket: TLSSocket; readonly stop: () => void }
  >();
  /** Each Pod's open streams (by Pod uid), oldest first. */
  const podStreams = new Map<string, ServerResponse[]>();

  const verifying = new ConcurrentShare(VERIFYING_PER_PEER, MAX_VERIFYING);
  /** Verifies a token within the port's places for reviews; refuses with 503 busy past them. */
  const verifyWithin = async (req: IncomingMessage, token: string | undefined): Promise<SidecarIdentity> => {
    const leave = verifying.enter(peerOf(req));
    if (leave === null)
      throw new StreamRefusal('busy', 503, 'too many sidecars connecting at once; retry shortly', 1);
    try {
      return await options.verify(token);
    } finally {
      leave();
    }
  };
  const budget = new TokenBuckets(SESSION_END_RATE);
  const streamOpens = new TokenBuckets(STREAM_OPEN_RATE);
  const bodies = new BodyBudget(DELIVERY_BODY_BYTES_PER_PEER, DELIVERY_BODY_BYTES, (held) =>
    options.metrics.deliveryBodyBytes.set(held),
  );
  /** Runs a route whose body takes from the port's budget, and gives its share back at the end. */
  const withBodyHold = (req: IncomingMessage, route: (hold: BodyHold) => Promise<void>): Promise<void> => {
    const hold = bodies.holdFor(peerOf(req));
    return route(hold).finally(() => hold.release());
  };

  /**
   * Ends a stream (counted by reason, when its sidecar may no longer read it): nothing more is
   * written to it (a heartbeat or a config written after its end was an unhandled error that
   * ended the operator, and a stream whose sidecar does not read stays open after its end), and
   * its socket is cut if its sidecar has not read to the end within STREAM_END_GRACE_MS.
   */
  const endStream = (res: ServerResponse, reason: string | undefined): void => {
    const open = streams.get(res);
    if (!open) return;
    if (reason) options.metrics.streamsEnded.inc({ reason });
    open.stop();
    res.end();
    setTimeout(() => cutConnection(open.socket), STREAM_END_GRACE_MS).unref();
  };
  /** Cuts a stream at once (counted by reason): what was written to it and not sent is dropped. */
  const cutStream = (res: ServerResponse, reason: string): void => {
    const open = streams.get(res);
    if (!open) return;
    options.metrics.streamsEnded.inc({ reason });
    open.stop();
    cutConnection(open.socket);
  };

  const stream = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const header = req.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    let identity: Awaited<ReturnType<SidecarVerifier>>;
    try {
      // A reconnection storm (every sidecar after an outage) is answered 503 busy at once past the
      // places for reviews, and the sidecar's jittered retry spreads the load.
      identity = await verifyWithin(req, token);
      const asked = url.searchParams.get(STREAM_APPLICATION_PARAM);
      if (asked !== null && asked !== identity.application) {
        throw new StreamRefusal(
          'application_mismatch',
          403,
          `this pod serves application ${identity.application}, not ${asked}`,
        );
      }
      const retryAfter = streamOpens.take(identity.podUid);
      if (retryAfter > 0)
        throw new StreamRefusal(
          'too_many_streams',
          429,
          `a pod opens at most ${STREAM_OPEN_RATE.burst} streams at once, then ${STREAM_OPEN_RATE.perSecond} a second`,
          retryAfter,
        );
    } catch (error) {
      if (!(error instanceof StreamRefusal)) throw error;
      options.metrics.streamRefusals.inc({ reason: error.reason });
      sendRefusal(res, error);
      return;
    }
    // A sidecar that left while its token was reviewed gets no stream: its close has been and
    // gone, so nothing would ever stop one.
    if (req.socket.destroyed) return;
    // connection: close — when the stream ends, so does its socket: a sidecar never reconnects
    // over a kept-alive socket to a replica that is shutting down.
    res.writeHead(200, {
      'content-type': STREAM_MEDIA_TYPE,
      'cache-control': 'no-store',
      connection: 'close',
      'x-gatehouse-application': `${identity.namespace}/${identity.application}`,
    });
    res.flushHeaders();
    res.on('error', () => res.destroy());
    const key = `${identity.namespace}/${identity.application}`;
    let unsubscribe = (): void => undefined;
    const heartbeat = setInterval(() => send(HEARTBEAT_LINE), heartbeatMs);
    // The stream is only as good as its token: it ends when the token expires (the sidecar
    // reconnects with the one the kubelet has refreshed), and is reviewed again after the review
    // bound. A deleted Pod ends it at once (podChanged).
    const expiry =
      identity.expiresAt === undefined
        ? undefined
        : setTimeout(() => endStream(res, 'token_expired'), Math.max(0, identity.expiresAt - Date.now()));
    const review = setInterval(() => {
      options.verify(token).then(
        (again) => {
          if (again.podUid !== identity.podUid || again.application !== identity.application)
            endStream(res, 'pod_mismatch');
        },
        (error: unknown) => {
          // The API server cannot answer now: keep the stream (its token was valid) and ask again later.
          if (error instanceof StreamRefusal && error.reason !== 'review_failed')
            endStream(res, error.reason);
        },
      );
    }, reviewBoundMs);
    /** Nothing more is written to the stream: at its end, or when its connection closes. */
    const stop = (): void => {
      if (!streams.delete(res)) return;
      clearInterval(heartbeat);
      clearInterval(review);
      clearTimeout(expiry);
      unsubscribe();
      options.metrics.connectedSidecars.dec();
      const ofPod = podStreams.get(identity.podUid) ?? [];
      const at = ofPod.indexOf(res);
      if (at >= 0) ofPod.splice(at, 1);
      if (ofPod.length === 0) podStreams.delete(identity.podUid);
    };
    streams.set(res, {
      pod: `${identity.namespace}/${identity.pod}`,
      podUid: identity.podUid,
      socket: req.socket as TLSSocket,
      stop,
    });
    options.metrics.connectedSidecars.inc();
    const ofPod = podStreams.get(identity.podUid) ?? [];
    podStreams.set(identity.podUid, ofPod);
    ofPod.push(res);
    const oldest = ofPod.length > STREAMS_PER_POD ? ofPod[0] : undefined;
    if (oldest) cutStream(oldest, 'replaced');
    let largestLine = 0;
    const pod = { namespace: identity.namespace, name: identity.pod, uid: identity.podUid };
    /** A config went out on this stream: a later `waiting` (its application deleted) finds it serving. */
    let configSent = false;
    const send = (line: string): void => {
      if (res.writableEnded || res.destroyed) return;
      largestLine = Math.max(largestLine, line.length);
      res.write(line);
      if (res.writableLength > largestLine + STREAM_SLACK_BYTES) cutStream(res, 'slow_reader');
      else if (line.startsWith(WAITING_LINE_START)) {
        const waiting = readStreamLine(line);
        if (waiting?.type === 'waiting')
          options.podEvents?.waiting(pod, waiting.reason, waiting.message, configSent);
      } else if (line.startsWith(CONFIG_LINE_START)) {
        configSent = true;
        options.podEvents?.configured(pod);
      }
    };
    // The hub sends the current lines at once; a stream cut while they were written is let go.
    const accepts = String(req.headers[STREAM_ACCEPTS_HEADER] ?? '').split(',');
    unsubscribe = options.hub.subscribe(key, send, {
      revocationChanges: accepts.some((name) => name.trim() === ACCEPTS_REVOCATION_CHANGES),
    });
    // No config and no reason yet: one for an application the operator does not have at all.
    if (!options.hub.knows(key) && options.applicationMissing?.(key)) send(notFoundLine(key));
    if (!streams.has(res)) unsubscribe();
    res.on('close', stop);
    req.on('close', stop);
  };

  const tlsServer = createServer(
    {
      ...options.tls,
      minVersion: 'TLSv1.2',
      handshakeTimeout: DELIVERY_HANDSHAKE_TIMEOUT_MS,
      headersTimeout: DELIVERY_HEADERS_TIMEOUT_MS,
      requestTimeout: DELIVERY_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://operator.invalid');
      const { admission, sessionEnds } = options;
      if (req.method === 'POST' && url.pathname === INJECT_PATH && admission) {
        settle(
          res,
          withBodyHold(req, (hold) => admission(req, res, hold)),
          INTERNAL,
        );
        return;
      }
      if (req.method === 'POST' && url.pathname === SESSION_ENDS_PATH && sessionEnds) {
        const route = (hold: BodyHold) =>
          sessionEndsRoute(req, res, {
            verify: (token) => verifyWithin(req, token),
            record: sessionEnds.record,
            covering: sessionEnds.covering,
            ...(sessionEnds.coveringAccount ? { coveringAccount: sessionEnds.coveringAccount } : {}),
            ...(sessionEnds.recorded ? { recorded: sessionEnds.recorded } : {}),
            budget,
            hold,
            counted: (outcome) => options.metrics.sessionEnds.inc({ outcome }),
          });
        settle(res, withBodyHold(req, route), UNAVAILABLE);
        return;
      }
      if (req.method === 'GET' && url.pathname === CONFIG_STREAM_PATH) {
        settle(res, stream(req, res, url), INTERNAL);
        return;
      }
      const jwks = req.method === 'GET' ? JWKS_PATH.exec(url.pathname) : null;
      if (jwks) {
        const published = options.hub.get(`${jwks[1]}/${jwks[2]}`);
        if (!published)
          return sendJson(res, 404, {
            error: 'not_found',
            message: 'no such application, or it is not ready',
          });
        res.writeHead(200, {
          'content-type': 'application/jwk-set+json',
          'cache-control': 'public, max-age=300',
        });
        res.end(published.jwks);
        return;
      }
      sendJson(res, 404, { error: 'not_found', message: 'no such endpoint' });
    },
  );
  // A stream cut because its sidecar does not read is reset: closed, its connection would keep
  // what was written to it in the kernel's send queue for minutes.
  const cutConnection = tlsConnectionReset(tlsServer);
  // Connections are admitted in front of the TLS server, where refusing one costs a quarter of
  // what it costs once the TLS server has taken it.
  const gate = gateConnections(tlsServer, (front) => {
    limitConnectionRatePerPeer(front, DELIVERY_OPENS_PER_PEER, () =>
      options.metrics.deliveryConnectionsRefused.inc({ reason: 'rate' }),
    );
    limitConnectionsPerPeer(front, DELIVERY_CONNECTIONS_PER_PEER, () =>
      options.metrics.deliveryConnectionsRefused.inc({ reason: 'share' }),
    );
  });
  // Node's header timeout starts with the first byte of a request: a client that completes its
  // TLS handshake and then says nothing would be held until it left. Its first byte is due
  // within the same time as a whole head.
  tlsServer.on('secureConnection', (socket: TLSSocket) => {
    const silent = setTimeout(() => socket.destroy(), DELIVERY_HEADERS_TIMEOUT_MS);
    silent.unref();
    socket.once('data', () => clearTimeout(silent));
    socket.once('close', () => clearTimeout(silent));
  });
  return {
    server: gate.front,
    close() {
      gate.close();
      tlsServer.close();
    },
    /** Ends every stream, so sidecars reconnect (to another replica during a rollout). */
    endStreams() {
      for (const res of [...streams.keys()]) endStream(res, undefined);
    },
    /** A sidecar Pod changed in the operator's cache: a deleted or replaced Pod's streams end now. */
    podChanged(key: string, pod: KubeObject | undefined) {
      for (const [res, open] of streams)
        if (open.pod === key && pod?.metadata.uid !== open.podUid) endStream(res, 'pod_gone');
    },
    /** Presents a new certificate to new connections; open ones keep theirs. */
    setTls(cert, key) {
      tlsServer.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    },
  };
}
