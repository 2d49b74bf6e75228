// The floor of a Node.js proxy hop, for bench/proxy-cost.ts: node:http's server and an undici
// Pool (the sidecar's two building blocks, same versions, undici's core modules as the sidecar
// loads them) with nothing else: no authentication, policy, identity headers, log line or metrics.
// What it costs per request, to start and at rest is what any proxy built on this runtime pays
// before it does its own work. proxy-cost runs it as the sidecar ships: bundled into one file
// (bundleBareNodeProxy) with a compile cache.
//
//   node bench/bare-node-proxy.ts <port> <upstream-origin>
import { createServer } from 'node:http';
import { Pool } from '../lib/http/undici-core.ts';

const [port, upstream] = process.argv.slice(2);
if (!port || !upstream) {
  console.error('usage: node bench/bare-node-proxy.ts <port> <upstream-origin>');
  process.exit(2);
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
const pool = new Pool(upstream, { connections: 128 });

const server = createServer((req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1] as string);
  }
  pool
    .request({
      path: req.url ?? '/',
      method: req.method as 'GET',
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    })
    .then(({ statusCode, headers: answer, body }) => {
      for (const [name, value] of Object.entries(answer))
        if (value !== undefined && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
      res.statusCode = statusCode;
      body.pipe(res);
    })
    .catch(() => {
      res.statusCode = 502;
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
