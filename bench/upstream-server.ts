// A minimal application for benchmarks: `/small` answers 2 bytes, `/1m` answers 1 MiB. Over
// HTTPS when given a certificate and its key: `upstream-server.ts <port> [<cert.pem> <key.pem>]`.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const ONE_MIB = Buffer.alloc(1024 * 1024, 0x61);
const port = Number(process.argv[2] ?? 0);
const [certFile, keyFile] = process.argv.slice(3);
const createServer = (listener: RequestListener) =>
  certFile && keyFile
    ? createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, listener)
    : createHttpServer(listener);
const server = createServer((req, res) => {
  if (req.url === '/1m') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': ONE_MIB.length });
    res.end(ONE_MIB);
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  }
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : port}\n`);
});
