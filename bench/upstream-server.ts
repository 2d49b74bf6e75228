// A minimal application for benchmarks: `/small` answers 2 bytes, `/1m` answers 1 MiB.
import { createServer } from 'node:http';

const ONE_MIB = Buffer.alloc(1024 * 1024, 0x61);
const port = Number(process.argv[2] ?? 0);
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
