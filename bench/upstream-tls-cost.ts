// What an https upstream costs the sidecar, side by side with an http one in the same run: the
// built sidecar as shipped (NODE_OPTIONS, compile cache, the injected container's memory limit),
// pinned to core 0, in front of bench/upstream-server.ts over http and over https (a certificate
// of its own CA, trusted through spec.upstream.tls.caSecretRef, checked for the application's
// name on 127.0.0.1 as an injected sidecar does: --upstream-address); the load and the
// application on core 1. CPU microseconds per request from /proc/<pid>/stat: for a 2-byte answer
// at a constant 2,000 requests/s (vegeta, with its p50 and p99 latency), at saturation (wrk, 50
// keep-alive clients: on two cores the https application shares core 1 with wrk and answers fewer
// requests a second, and fewer requests per turn of the sidecar's event loop cost more each, so
// the constant rate is the fairer comparison), and for 1 MiB answers (8 clients); medians of --runs.
//
//   npm run build && node bench/upstream-tls-cost.ts [--runs 3] [--duration 6]
//
// Needs wrk (apt-get install -y wrk); builds vegeta once from its Go module (scripts/bench-tools.sh).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { createCertificateAuthority, createServingCertificate } from '../operator/src/tls/certificates.ts';
import {
  benchTools,
  children,
  constantRateAttack,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  memoryNote,
  stopChild,
  waitFor200,
  wrkCpuUsPerRequest,
  wrkOnLoadCore,
} from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '6' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.duration);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-tls-'));
const DAY = 86_400_000;
const ca = createCertificateAuthority('bench CA', new Date(), DAY);
const leaf = createServingCertificate(ca, ['app.internal'], new Date(), DAY);
writeFileSync(join(dir, 'tls.crt'), leaf.cert);
writeFileSync(join(dir, 'tls.key'), leaf.key);

async function application(tls: boolean): Promise<number> {
  const port = await freePort();
  const script = join(import.meta.dirname, 'upstream-server.ts');
  const args = [script, String(port), ...(tls ? [join(dir, 'tls.crt'), join(dir, 'tls.key')] : [])];
  const child = spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: 'ignore' });
  children.add(child);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return port;
}

function configFile(name: string, url: string, tls: boolean): string {
  const documents = [
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessApplication',
      metadata: { name: 'bench' },
      spec: {
        hosts: ['127.0.0.1'],
        upstream: { url, ...(tls ? { tls: { caSecretRef: { name: 'app-ca', key: 'ca.crt' } } } : {}) },
        policies: [{ name: 'open' }],
      },
    },
    {
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'open' },
      spec: { decision: 'bypass', include: [{ everyone: true }] },
    },
    ...(tls
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'app-ca' },
            stringData: { 'ca.crt': ca.cert },
          },
        ]
      : []),
  ];
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, documents.map((d) => stringify(d)).join('---\n'));
  return path;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const memory = injectedMemoryGroup('tls');
const variants = [
  { name: 'http upstream', tls: false },
  { name: 'https upstream', tls: true },
] as const;
interface Measured {
  rate: number[];
  p50: number[];
  p99: number[];
  small: number[];
  large: number[];
}
const results = new Map<string, Measured>();
const vegeta = join(benchTools(), 'vegeta');
const RATE = 2_000;

try {
  const ports = { http: await application(false), https: await application(true) };
  for (let run = 0; run < runs; run++) {
    for (const variant of variants) {
      const port = variant.tls ? ports.https : ports.http;
      const config = variant.tls
        ? configFile('https', `https://app.internal:${port}`, true)
        : configFile('http', `http://127.0.0.1:${port}`, false);
      const listen = await freePort();
      const sidecar = spawnBuiltSidecar(config, listen, {
        pin: { core: 0, memory },
        configFlags: [
          '--config',
          config,
          ...(variant.tls ? ['--upstream-address', `127.0.0.1:${port}`] : []),
        ],
      });
      children.add(sidecar);
      const url = `http://127.0.0.1:${listen}`;
      await waitFor200(`${url}/small`);
      // A warm-up: compiled paths and open upstream connections, as in a pod that has served a while.
      wrkOnLoadCore(`${url}/small`, { connections: 50, seconds: 2 });
      const pid = sidecar.pid as number;
      const before = cpuTicks(pid);
      const attack = constantRateAttack(vegeta, `GET ${url}/small\n`, RATE, seconds);
      if (Object.keys(attack.codes).some((code) => code !== '200'))
        throw new Error(`${variant.name}: answers other than 200: ${JSON.stringify(attack.codes)}`);
      const rate = ((cpuTicks(pid) - before) / HZ / (RATE * seconds)) * 1e6;
      const small = wrkCpuUsPerRequest(pid, `${url}/small`, { connections: 50, seconds });
      const large = wrkCpuUsPerRequest(pid, `${url}/1m`, { connections: 8, seconds });
      const entry = results.get(variant.name) ?? { rate: [], p50: [], p99: [], small: [], large: [] };
      entry.rate.push(rate);
      entry.p50.push(attack.p50);
      entry.p99.push(attack.p99);
      entry.small.push(small);
      entry.large.push(large);
      results.set(variant.name, entry);
      await stopChild(sidecar);
      process.stderr.write(
        `run ${run + 1}: ${variant.name}: ${rate.toFixed(1)} µs at ${RATE}/s (p50 ${attack.p50.toFixed(2)} ms, p99 ${attack.p99.toFixed(2)} ms), ${small.toFixed(1)} µs saturated, 1 MiB ${large.toFixed(0)} µs\n`,
      );
    }
  }
  console.log(`Sidecar CPU per request, medians of ${runs} (${memoryNote(memory)}):\n`);
  console.log(
    `| | 2-byte answer at ${RATE.toLocaleString('en')}/s | its p50 / p99 | 2-byte answer, saturation (50 clients) | 1 MiB answer (8 clients) |`,
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, r] of results)
    console.log(
      `| ${name} | ${median(r.rate).toFixed(1)} µs | ${median(r.p50).toFixed(2)} / ${median(r.p99).toFixed(2)} ms | ${median(r.small).toFixed(1)} µs | ${median(r.large).toFixed(0)} µs |`,
    );
} finally {
  for (const child of children) await stopChild(child);
}
