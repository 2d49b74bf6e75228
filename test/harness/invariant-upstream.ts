import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import { canonicalizeTarget } from '../../contract/policy/canonical-path.ts';
import { isPrivateEndpoint } from '../../lib/net/proxy-protocol-endpoint.ts';
import { ALWAYS_DROPPED } from '../../sidecar/src/http/forwarding-header-rules.ts';
import {
  comparableHeaderName,
  IDENTITY_HEADER_PREFIXES,
  IDENTITY_HEADERS,
} from '../../sidecar/src/http/identity-headers.ts';
import { SPOOFED_CLIENTS, SPOOFED_ENDPOINT } from './requests.ts';

/** Paths only the harness's legitimate, identified traffic uses; identity headers may arrive only there. */
export const LEGIT_PREFIX = '/legit/';
const IDENTITY = new Set(IDENTITY_HEADERS);

const HOP_BY_HOP_FROM_CLIENTS = new Set(['proxy-connection', 'keep-alive', 'te', 'trailer']);

/** An upstream that serves the harness's routes and checks every request the sidecar forwards. */
export interface InvariantUpstream {
  readonly url: string;
  /**
   * Requests received, and the request ids they carried; `proxied`: those whose client a load
   * balancer's PROXY header named (an X-Forwarded-For other than a loopback peer).
   */
  readonly received: { count: number; proxied: number; endpoints: number; readonly ids: Set<string> };
  /** Each broken invariant, described once per occurrence (capped). */
  readonly violations: string[];
  readonly tunnels: Set<Socket>;
  close(): Promise<void>;
}

/** Checks one forwarded request: what the sidecar must never let through. */
export function checkForwarded(req: IncomingMessage, upgrade: boolean): string[] {
  const problems: string[] = [];
  const url = req.url ?? '';
  const path = url.split('?')[0] ?? '';
  const canonical = canonicalizeTarget(url);
  if ('error' in canonical || canonical.path !== path)
    problems.push(`non-canonical path ${JSON.stringify(url.slice(0, 80))}`);
  const names = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  const legit = path.startsWith(LEGIT_PREFIX);
  const xff = req.headers['x-forwarded-for'];
  // The private endpoint a balancer's header named, once, on a request it brought; never a client's.
  const endpoints = names.filter((n) => n === 'x-gatehouse-private-endpoint').length;
  const endpoint = req.headers['x-gatehouse-private-endpoint'];
  if (
    endpoints > 1 ||
    (endpoint !== undefined &&
      (typeof endpoint !== 'string' ||
        !isPrivateEndpoint(endpoint) ||
        endpoint === SPOOFED_ENDPOINT ||
        typeof xff !== 'string' ||
        xff.startsWith('127.')))
  )
    problems.push(`private endpoint ${JSON.stringify(endpoint)} x${endpoints} from ${JSON.stringify(xff)}`);
  // The sidecar's own routes (sign-in, readiness) are answered by it, never forwarded.
  if (path.startsWith('/.gatehouse/')) problems.push(`gateway route ${path} forwarded`);
  // An application would echo a TRACE, identity headers and JWT included.
  if (req.method === 'TRACE') problems.push(`TRACE ${path} forwarded`);
  let hosts = 0;
  let lengths = 0;
  for (const name of names) {
    if (name === 'host') hosts++;
    if (name === 'content-length') lengths++;
    if (name.includes('_')) problems.push(`underscore header ${name}`);
    if (ALWAYS_DROPPED.has(name)) problems.push(`rewrite header ${name}`);
    if (HOP_BY_HOP_FROM_CLIENTS.has(name)) problems.push(`hop-by-hop header ${name}`);
    if (
      !legit &&
      name !== 'x-gatehouse-private-endpoint' &&
      (IDENTITY.has(comparableHeaderName(name)) ||
        IDENTITY_HEADER_PREFIXES.some((prefix) => comparableHeaderName(name).startsWith(prefix)))
    )
      problems.push(`identity header ${name} on ${path}`);
    if (!upgrade && name === 'upgrade') problems.push('upgrade header on a plain request');
  }
  if (hosts !== 1 || !/^127\.0\.0\.1(:\d+)?$/.test(req.headers.host ?? ''))
    problems.push(`host ${JSON.stringify(req.headers.host)} x${hosts}`);
  if (lengths > 1 || (lengths === 1 && req.headers['transfer-encoding'] !== undefined))
    problems.push('ambiguous body length');
  // The peer, or the client a load balancer's PROXY header named; never one another peer claimed.
  if (
    typeof xff !== 'string' ||
    !(/^127\.\d+\.\d+\.\d+$/.test(xff) || (isIP(xff) !== 0 && !xff.startsWith(SPOOFED_CLIENTS)))
  )
    problems.push(`x-forwarded-for ${JSON.stringify(xff)}`);
  if (typeof req.headers['x-request-id'] !== 'string') problems.push('no request id');
  return problems;
}

/**
 * Starts the upstream. Routes, by last path segment: `slow` (200 ms), `big` (1 MiB), `stream`
 * (chunks over 300 ms), `upload` (reads the body); upgrades echo; anything else `ok`.
 */
export async function startInvariantUpstream(): Promise<InvariantUpstream> {
  const violations: string[] = [];
  const received = { count: 0, proxied: 0, endpoints: 0, ids: new Set<string>() };
  const tunnels = new Set<Socket>();
  const sockets = new Set<Socket>();
  const note = (req: IncomingMessage, upgrade: boolean) => {
    received.count++;
    const xff = req.headers['x-forwarded-for'];
    if (typeof xff === 'string' && !xff.startsWith('127.')) received.proxied++;
    if (req.headers['x-gatehouse-private-endpoint'] !== undefined) received.endpoints++;
    const id = req.headers['x-request-id'];
    if (typeof id === 'string') received.ids.add(id);
    for (const p of checkForwarded(req, upgrade)) if (violations.length < 200) violations.push(p);
  };
  const server = createServer({ keepAliveTimeout: 5_000 }, (req: IncomingMessage, res: ServerResponse) => {
    note(req, false);
    // Routed by the last path segment, so `/public/slow` behind a bypass policy works too.
    const path = `/${(req.url ?? '/').split('?')[0]?.split('/').pop() ?? ''}`;
    res.on('error', () => undefined);
    if (path === '/slow') {
      const t = setTimeout(() => res.end('slow'), 200);
      res.on('close', () => clearTimeout(t));
      req.resume();
    } else if (path === '/big') {
      req.resume();
      res.writeHead(200, { 'content-length': 1024 * 1024 });
      res.end(Buffer.alloc(1024 * 1024, 1));
    } else if (path === '/stream') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const t = setInterval(() => {
        res.write(`data: ${n}\n\n`);
        if (++n === 3) {
          clearInterval(t);
          res.end();
        }
      }, 100);
      res.on('close', () => clearInterval(t));
    } else {
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.on('end', () => res.end(`ok ${bytes}`));
      req.on('error', () => undefined);
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    note(req, true);
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    violations,
    tunnels,
    close: () =>
      new Promise((resolve) => {
        for (const s of [...sockets, ...tunnels]) s.destroy();
        server.close(() => resolve());
      }),
  };
}
