import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { newServiceToken } from '../../sidecar/src/auth/service-tokens.ts';
import {
  applicationYaml,
  policyYaml,
  SIDECAR_ENV,
  sidecarArgv,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { LEGIT_PREFIX, startInvariantUpstream } from './invariant-upstream.ts';
import { createPrng } from './prng.ts';
import { exchange } from './raw-exchange.ts';
import { fuzzCase, PROXY_BALANCERS } from './requests.ts';
import { runScenario, type ScenarioName, type ScenarioResult, type ScenarioSizes } from './scenarios.ts';

export interface AdversaryOptions extends ScenarioSizes {
  readonly seed: number;
  /** Mutated requests to send. */
  readonly cases: number;
  /** Fuzz connections in flight at once. */
  readonly concurrency: number;
  readonly scenarios: readonly ScenarioName[];
  /** Legitimate identified requests per second, interleaved with the attack. */
  readonly legitPerSecond: number;
  readonly shutdownGraceMs: number;
  /** V8 options added to the shipped ones, e.g. a heap limit like a container's. */
  readonly extraNodeOptions?: string;
  readonly onProgress?: (done: number) => void;
}

/** What a run found; a clean run has no exits, violations or problems. */
export interface AdversaryReport {
  readonly seed: number;
  readonly cases: number;
  readonly durationS: number;
  readonly exited: string | null;
  readonly violations: readonly string[];
  readonly scenarios: readonly ScenarioResult[];
  readonly legit: { sent: number; failed: number; p50Ms: number; p99Ms: number; maxMs: number };
  readonly rssMiB: { start: number; peak: number; end: number };
  /** RSS every 10 s of the run, with the fuzz cases done by then. */
  readonly rssTrend: readonly { readonly cases: number; readonly mib: number }[];
  readonly lines: {
    requests: number;
    unparseable: number;
    duplicated: number;
    missingForUpstream: number;
    missingForClients: number;
  };
  readonly upstreamRequests: number;
  /** Of those, the ones whose client a load balancer's PROXY header named. */
  readonly upstreamProxied: number;
  /** Of those, the ones that came through a private endpoint the PROXY header named. */
  readonly upstreamThroughEndpoints: number;
  readonly shutdownMs: number;
  /** The sidecar_stopped line: what the shutdown had to cut at the end of its draining time. */
  readonly stopped: Record<string, unknown>;
}

const rssMiB = (pid: number) => {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/**
 * Runs the built sidecar (shipped NODE_OPTIONS, default limits) in front of the invariant upstream,
 * then throws mutated requests and hostile scenarios at it while legitimate identified requests
 * keep coming; ends with SIGTERM and checks every line.
 */
export async function runAdversary(options: AdversaryOptions): Promise<AdversaryReport> {
  const started = performance.now();
  const upstream = await startInvariantUpstream();
  const token = newServiceToken();
  const dir = writeConfigDir(
    `${applicationYaml(
      {
        hosts: ['127.0.0.1'],
        upstream: { url: upstream.url },
        policies: [{ name: 'open' }],
        proxyProtocol: { from: [PROXY_BALANCERS] },
        authentication: { serviceTokens: { tokens: [{ id: 'legit', secretHash: token.secretHash }] } },
      },
      'adversary',
    )}---\n${policyYaml('open', { decision: 'bypass', include: [{ everyone: true }] })}`,
  );
  const child = spawn(
    process.execPath,
    sidecarArgv(dir, '127.0.0.1:0', ['--shutdown-grace', `${options.shutdownGraceMs}ms`]),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.extraNodeOptions
        ? { ...SIDECAR_ENV, NODE_OPTIONS: `${SIDECAR_ENV.NODE_OPTIONS} ${options.extraNodeOptions}` }
        : SIDECAR_ENV,
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4_000);
  });
  const lineCounts = new Map<string, number>();
  let unparseable = 0;
  let requestLines = 0;
  let port = 0;
  let stopped: Record<string, unknown> = {};
  const stdoutDone = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout })
      .on('line', (text) => {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          unparseable++;
          return;
        }
        if (line.type === 'request') {
          requestLines++;
          const id = String(line.requestId);
          lineCounts.set(id, (lineCounts.get(id) ?? 0) + 1);
        } else if (line.type === 'sidecar_started') port = Number(String(line.listen).split(':').pop());
        else if (line.type === 'sidecar_stopped') stopped = line;
      })
      .on('close', resolve),
  );
  let exited: string | null = null;
  let stopping = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      if (!stopping) exited = `exit ${code} ${signal ?? ''} ${stderr.slice(-500)}`;
      resolve();
    }),
  );
  while (port === 0 && exited === null) await new Promise((r) => setTimeout(r, 20));
  const pid = child.pid as number;
  const rss = { start: rssMiB(pid), peak: 0, end: 0 };
  const rssTrend: { cases: number; mib: number }[] = [];
  let sampled = 0;
  const sampler = setInterval(() => {
    if (exited !== null) return;
    const mib = rssMiB(pid);
    rss.peak = Math.max(rss.peak, mib);
    if (++sampled % 40 === 0) rssTrend.push({ cases: next, mib });
  }, 250);

  // Legitimate, identified traffic all along: it must keep being answered, quickly.
  const legit = { sent: 0, failed: 0, ms: [] as number[] };
  let attacking = true;
  const legitLoop = (async () => {
    while (attacking && exited === null) {
      const t0 = performance.now();
      legit.sent++;
      try {
        const res = await request(`http://127.0.0.1:${port}${LEGIT_PREFIX}${legit.sent}`, {
          headers: { 'cf-access-client-id': 'legit', 'cf-access-client-secret': token.secret },
          headersTimeout: 5_000,
          bodyTimeout: 5_000,
        });
        const body = await res.body.text();
        if (res.statusCode !== 200 || !body.startsWith('ok')) legit.failed++;
      } catch {
        legit.failed++;
      }
      legit.ms.push(performance.now() - t0);
      await new Promise((r) =>
        setTimeout(r, Math.max(0, 1000 / options.legitPerSecond - (performance.now() - t0))),
      );
    }
  })();

  const clientIds: string[] = [];
  const rng = createPrng(options.seed);
  let next = 0;
  const fuzzWorker = async () => {
    while (next < options.cases && exited === null) {
      next++;
      const seen = await exchange(port, fuzzCase(rng));
      for (const id of seen.requestIds) clientIds.push(id);
      if (next % 1000 === 0) options.onProgress?.(next);
    }
  };
  // Trickling clients hold the anonymous share of the pool until their timeouts cut them (by
  // design: identified callers keep theirs), so they run after the scenarios that expect
  // anonymous requests to be served.
  const TRICKLING: readonly ScenarioName[] = ['slowloris', 'slow-body'];
  const scenarioRuns = (async () => {
    const first = await Promise.all(
      options.scenarios.filter((n) => !TRICKLING.includes(n)).map((name) => runScenario(name, port, options)),
    );
    const second = await Promise.all(
      options.scenarios.filter((n) => TRICKLING.includes(n)).map((name) => runScenario(name, port, options)),
    );
    return [...first, ...second];
  })();
  await Promise.all(Array.from({ length: options.concurrency }, fuzzWorker));
  const scenarios = await scenarioRuns;
  attacking = false;
  await legitLoop;
  clearInterval(sampler);
  rss.end = exited === null ? rssMiB(pid) : 0;

  stopping = exited === null;
  const stopAt = performance.now();
  child.kill('SIGTERM');
  await exitedPromise;
  const shutdownMs = Math.round(performance.now() - stopAt);
  await stdoutDone;
  await upstream.close();

  const sorted = legit.ms.sort((a, b) => a - b);
  return {
    seed: options.seed,
    cases: next,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    exited,
    violations: upstream.violations,
    scenarios,
    legit: {
      sent: legit.sent,
      failed: legit.failed,
      p50Ms: Math.round(percentile(sorted, 0.5)),
      p99Ms: Math.round(percentile(sorted, 0.99)),
      maxMs: Math.round(sorted.at(-1) ?? 0),
    },
    rssMiB: rss,
    rssTrend,
    lines: {
      requests: requestLines,
      unparseable,
      duplicated: [...lineCounts.values()].filter((n) => n > 1).length,
      missingForUpstream: [...upstream.received.ids].filter((id) => !lineCounts.has(id)).length,
      missingForClients: clientIds.filter((id) => !lineCounts.has(id)).length,
    },
    upstreamRequests: upstream.received.count,
    upstreamProxied: upstream.received.proxied,
    upstreamThroughEndpoints: upstream.received.endpoints,
    shutdownMs,
    stopped,
  };
}
