// What sign-outs cost every sidecar of an application: each recorded session end is an
// AccessRevocation the operator sends at once (a `revocations` line), then renders into the
// application's config. The built sidecar (dist/, as the image runs it) streams its config from a
// stand-in operator holding N revocations, then gets `--ends` session ends, one every `--every`
// ms; the figure is the sidecar's CPU (all threads, /proc) per session end above its idle CPU over
// as long. `--stream hub` (the default) sends what the operator's ConfigHub sends for the two
// publishes; `--stream both` sends both lines whatever the hub would (the operator before
// 2026-12-04, which sent the render again).
//
//   node bench/session-end-churn.ts [--revocations 100,1000,8000] [--ends 40] [--every 100] [--stream hub|both] [--against DIST]

import { writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withRevocations } from '../contract/config/render.ts';
import { ACCEPTS_REVOCATION_CHANGES, STREAM_ACCEPTS_HEADER, streamLine } from '../contract/config-stream.ts';
import { ConfigHub } from '../operator/src/delivery/config-hub.ts';
import { readSnapshot } from '../sidecar/src/config/config-files.ts';
import { configFromSnapshot } from '../sidecar/src/config/load-application.ts';
import { selfSignedCertificate } from '../test/helpers/tls.ts';
import { children, cpuNanos, freePort, waitFor200 } from './process-measures.ts';
import { sessionEndRevocation } from './session-end-revocation.ts';
import { BUILT_DIST, spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: {
    revocations: { type: 'string', default: '100,1000,8000' },
    ends: { type: 'string', default: '40' },
    every: { type: 'string', default: '100' },
    stream: { type: 'string', default: 'hub' },
    against: { type: 'string' },
  },
});
const COUNTS = values.revocations.split(',').map(Number);
const ENDS = Number(values.ends);
const EVERY_MS = Number(values.every);
const STREAM = values.stream;
if (STREAM !== 'hub' && STREAM !== 'both') {
  console.error(`bench: --stream: ${STREAM}; give hub or both`);
  process.exit(2);
}
if (
  COUNTS.some((n) => !Number.isInteger(n) || n < 0 || n + ENDS > 10_000) ||
  !(ENDS > 0) ||
  !(EVERY_MS > 0)
) {
  console.error(
    'bench: --revocations: whole numbers, each with --ends at most 10000; --ends and --every above 0',
  );
  process.exit(2);
}

const sessionEnd = sessionEndRevocation;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const KEY = 'bench/churn';

/** A stand-in operator stream: what a ConfigHub sends for the application (or whatever the benchmark writes). */
async function controlledStream(dir: string, hub: ConfigHub) {
  const tls = selfSignedCertificate();
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'pod-token');
  const streams: ServerResponse[] = [];
  /** Bytes written to the sidecar's stream so far. */
  let written = 0;
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    streams.push(res);
    // As the operator subscribes a stream: with what the sidecar says it reads.
    const readsChanges = String(_req.headers[STREAM_ACCEPTS_HEADER] ?? '').includes(
      ACCEPTS_REVOCATION_CHANGES,
    );
    if (STREAM === 'hub')
      hub.subscribe(
        KEY,
        (line) => {
          written += Buffer.byteLength(line);
          res.write(line);
        },
        { revocationChanges: readsChanges },
      );
    else res.write((hub.get(KEY) as { line: string }).line);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    flags: [
      '--operator-url',
      `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
      '--operator-ca',
      tls.certFile,
      '--token-file',
      tokenFile,
    ],
    send: (line: string) => {
      for (const res of streams) {
        written += Buffer.byteLength(line);
        res.write(line);
      }
    },
    written: () => written,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Sidecar CPU (µs) and stream bytes per session end for an application already holding `count` revocations. */
async function perEnd(dist: string, count: number): Promise<{ perEndUs: number; bytesPerEnd: number }> {
  const { dir } = await writeSignedInApp('http://127.0.0.1:9', 'http://127.0.0.1:8', 'churn');
  const base = configFromSnapshot(readSnapshot(dir));
  let config = withRevocations(
    base,
    Array.from({ length: count }, (_, i) => sessionEnd(i)),
  );
  const hub = new ConfigHub();
  hub.publish(KEY, config, '{"keys":[]}');
  const stream = await controlledStream(dir, hub);
  const port = await freePort();
  const adminPort = await freePort();
  const sidecar = spawnBuiltSidecar('', port, { dist, configFlags: stream.flags, adminPort });
  children.add(sidecar);
  try {
    await waitFor200(`http://127.0.0.1:${adminPort}/readyz`);
    await sleep(1_000);
    const pid = sidecar.pid as number;
    const span = ENDS * EVERY_MS + 1_000;
    const idleStart = cpuNanos(pid);
    await sleep(span);
    const idle = cpuNanos(pid) - idleStart;
    const start = cpuNanos(pid);
    const writtenBefore = stream.written();
    for (let k = 0; k < ENDS; k++) {
      const revocations = [...config.revocations, sessionEnd(count + k)];
      config = withRevocations(config, revocations);
      // The hub's streams get what it sends; with --stream both, the two lines regardless.
      hub.publishRevocations(KEY, revocations);
      hub.publish(KEY, config, '{"keys":[]}');
      if (STREAM === 'both') {
        stream.send(streamLine({ type: 'revocations', revocations }));
        stream.send(streamLine({ type: 'config', config }));
      }
      await sleep(EVERY_MS);
    }
    await sleep(1_000);
    const busy = cpuNanos(pid) - start;
    return { perEndUs: (busy - idle) / ENDS / 1_000, bytesPerEnd: (stream.written() - writtenBefore) / ENDS };
  } finally {
    sidecar.kill('SIGKILL');
    children.delete(sidecar);
    await stream.close();
  }
}

const builds: [string, string][] = [['this build', BUILT_DIST]];
if (values.against) builds.push(['against', values.against]);
console.log(
  `node ${process.version}; ${ENDS} session ends, one every ${EVERY_MS} ms; stream: ${STREAM === 'hub' ? 'what the ConfigHub sends' : 'a revocations line and a config line each'}\n`,
);
console.log(
  `| revocations in force | ${builds.map(([name]) => `${name}: sidecar CPU per end, ms | stream bytes per end`).join(' | ')} |`,
);
console.log(`|---:|${builds.map(() => '---:|---:').join('|')}|`);
for (const count of COUNTS) {
  const cells: string[] = [];
  for (const [, dist] of builds) {
    const { perEndUs, bytesPerEnd } = await perEnd(dist, count);
    cells.push((perEndUs / 1_000).toFixed(2), Math.round(bytesPerEnd).toLocaleString('en'));
  }
  console.log(`| ${count} | ${cells.join(' | ')} |`);
}
process.exit(0);
