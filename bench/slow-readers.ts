// Whether anonymous visitors are served while clients that take large downloads at a trickle hold
// the upstream connections. The built sidecar (as the image runs it, every client setting as
// shipped) stands in front of an application with 128 upstream connections that answers GET /big
// with 64 MiB and anything else at once. `--readers` clients from `--addresses` loopback addresses
// each ask for /big and take `--rate` bytes a second of it (4 KiB at a time; the socket is left
// paused, so the rest stays in the kernel buffers), and ask again at once when cut: the anonymous
// half of the upstream connections is theirs. One anonymous visitor from another address asks for
// a small page every 2 s. Prints, for this build and `--against` another build's dist/: visitor
// requests served and refused (503 after the 10 s queue timeout), their wait, and the readers'
// requests the sidecar cut, by why (its request lines' errorCause).
// A reader far under 4 KiB a second refills its socket from the kernel so rarely that the client
// idle timeout sees it silent: that is the idle timeout's case, not this one's.
//
//   npm run build && node bench/slow-readers.ts [--readers 64] [--addresses 4] [--rate 40960] [--duration 120] [--against DIST]

import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { children, freePort, stopChild, waitFor200 } from './process-measures.ts';
import { BUILT_DIST, spawnBuiltSidecar } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    readers: { type: 'string', default: '64' },
    addresses: { type: 'string', default: '4' },
    rate: { type: 'string', default: '40960' },
    duration: { type: 'string', default: '120' },
    against: { type: 'string' },
  },
});
const READERS = Number(values.readers);
const ADDRESSES = Number(values.addresses);
const RATE = Number(values.rate);
const DURATION_S = Number(values.duration);
const whole = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
if (
  !whole(READERS, 1, 1_000) ||
  !whole(ADDRESSES, 1, 200) ||
  !whole(RATE, 0, 100 * 1024 * 1024) ||
  !whole(DURATION_S, 10, 3_600)
) {
  console.error(
    'bench: --readers 1..1000, --addresses 1..200, --rate 0..104857600 (bytes a second), --duration 10..3600 (seconds)',
  );
  process.exit(2);
}

const CHUNK = Buffer.alloc(64 * 1024, 7);
const BIG_CHUNKS = 1024; // 64 MiB

async function startApplication(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.url !== '/big') {
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-length': String(BIG_CHUNKS * CHUNK.length) });
    let sent = 0;
    const pump = (): void => {
      while (sent < BIG_CHUNKS) {
        sent++;
        if (!res.write(CHUNK)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** Readers that take `RATE` bytes a second of /big, asking again whenever they are cut. */
function trickleReaders(port: number): { cuts: () => number; stop: () => void } {
  let cuts = 0;
  let stopped = false;
  const sockets = new Set<Socket>();
  const reader = (address: string): void => {
    if (stopped) return;
    const socket = connect({ port, host: '127.0.0.1', localAddress: address });
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.write('GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    // 4 KiB at a time, as often as the rate allows.
    const everyMs = RATE === 0 ? 0 : Math.max(1, Math.round((4096 * 1000) / RATE));
    const timer = everyMs === 0 ? undefined : setInterval(() => socket.read(4096), everyMs);
    socket.once('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      if (stopped) return;
      cuts++;
      reader(address);
    });
  };
  for (let i = 0; i < READERS; i++) reader(`127.52.0.${1 + (i % ADDRESSES)}`);
  return {
    cuts: () => cuts,
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** One anonymous GET of a small page from its own address: its status (0: failed) and wait. */
function visit(port: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(
      { port, host: '127.0.0.1', path: '/page', localAddress: '127.53.0.1', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);

const application = await startApplication();
const configDir = join(tmpdir(), `gatehouse-slow-readers-${process.pid}`);
const configPath = join(configDir, 'app.yaml');
mkdirSync(configDir, { recursive: true });
writeFileSync(
  configPath,
  `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata:\n  name: slow-readers\nspec:\n  hosts: ['127.0.0.1']\n  upstream: {url: 'http://127.0.0.1:${application.port}', maxConnections: 128}\n  policies: [{name: open}]\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: open\nspec:\n  decision: bypass\n  include: [{everyone: true}]\n`,
);

const builds = [
  { name: 'this build', dist: BUILT_DIST },
  ...(values.against ? [{ name: values.against, dist: values.against }] : []),
];
const rows: string[] = [];
for (const build of builds) {
  const port = await freePort();
  const linesPath = join(configDir, `lines-${rows.length}.jsonl`);
  const linesFd = openSync(linesPath, 'w');
  const sidecar = spawnBuiltSidecar(configPath, port, { dist: build.dist, stdout: linesFd });
  children.add(sidecar);
  await waitFor200(`http://127.0.0.1:${port}/page`);
  const readers = trickleReaders(port);
  await sleep(2_000); // their downloads have started
  const visits: Promise<{ status: number; ms: number }>[] = [];
  const end = Date.now() + DURATION_S * 1000;
  while (Date.now() < end) {
    visits.push(visit(port));
    await sleep(2_000);
  }
  const done = await Promise.all(visits);
  readers.stop();
  const served = done.filter((v) => v.status === 200);
  const waits = served.map((v) => v.ms).sort((a, b) => a - b);
  await stopChild(sidecar);
  closeSync(linesFd);
  const cut = new Map<string, number>();
  for (const text of readFileSync(linesPath, 'utf8').split('\n')) {
    if (!text.includes('"uri":"/big"')) continue;
    const line = JSON.parse(text) as { type: string; error: string | null; errorCause: string | null };
    // Their ends at the stop are the readers' own (client_abort, no error).
    if (line.type !== 'request' || line.error === null) continue;
    const why = `${line.error} ${line.errorCause ?? ''}`.trim();
    cut.set(why, (cut.get(why) ?? 0) + 1);
  }
  const cuts = [...cut].map(([why, n]) => `${n} ${why}`).join(', ') || 'none';
  rows.push(
    `| ${build.name} | ${served.length} of ${done.length} | ${done.filter((v) => v.status === 503).length} | ${percentile(waits, 0.5).toFixed(0)} / ${(waits.at(-1) ?? 0).toFixed(0)} ms | ${cuts} | ${readers.cuts()} |`,
  );
  console.error(rows.at(-1));
  for (const socket of application.sockets) socket.destroy();
}
application.server.close();
console.log(
  `\n${READERS} readers from ${ADDRESSES} addresses taking ${RATE} B/s each of a 64 MiB download, asking again when cut; one anonymous visitor every 2 s for ${DURATION_S} s\n\n| sidecar | visits served | refused (503) | wait of those served, p50 / max | readers' requests ended early (sidecar's lines) | readers asked again |\n|---|---:|---:|---:|---|---:|\n${rows.join('\n')}`,
);
process.exit(0);
