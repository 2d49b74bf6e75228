// Cost per pod, side by side in one run: nginx proxy_pass (the floor for one proxy hop), a bare
// Node.js proxy (node:http + undici, bench/bare-node-proxy.ts bundled and started as the sidecar
// ships: the floor of the sidecar's runtime), oauth2-proxy and Gatehouse as shipped (the built
// sidecar with its NODE_OPTIONS and the image's compile cache, its config from the operator's
// stream over HTTPS as the injected sidecar gets it: bench/stand-in-operator.ts), each pinned to
// core 0 and limited to the injected sidecar container's default memory (a cgroup, as in a pod)
// while the load, the upstream and the identity provider run on core 1. Both authenticating
// proxies are signed in for real, through the same OpenID Provider (oidc-provider). Per proxy and
// run: spawn to first 200, idle RSS and anonymous memory (what another pod on the node does not
// share) 1 s and 16 s after the first answer, CPU at rest (its timers, over 5 s; again 21 s after
// the load, once every quiet-time job is done), CPU
// microseconds per request at saturation (anonymous and signed in; from /proc/<pid>/stat, which
// holds under noise), added latency at a constant 1,000 requests/s signed in (vegeta, against the
// upstream alone), and 200 keep-alive clients at saturation (wrk: p99, slowest, peak RSS; and bench/closed-loop.ts: 200 keep-alive
// clients, latencies once their connections are open; the anonymous memory after both, and
// 16 s later).
// Prints the medians of --runs as a table.
//
//   npm run build && taskset -c 1 node bench/proxy-cost.ts [--runs 3] [--duration 8] [--memory-limit injected|none]
//     [--gatehouse-config operator|file]
//
// Needs wrk and nginx (apt-get install -y wrk nginx-light); builds oauth2-proxy and vegeta once
// from their Go modules (scripts/bench-tools.sh).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { stringify } from 'yaml';
import { generateApplicationKeys } from '../contract/keys.ts';
import { startDevProvider } from '../examples/demo/dev-provider.ts';
import { SHIPPED_BUNDLE } from '../scripts/bundle-settings.ts';
import { HttpBrowser, signInWithDevProvider } from '../test/helpers/http-browser.ts';
import {
  benchTools,
  children,
  constantRateAttack,
  cpuNanos,
  cpuTicks,
  freePort,
  HZ,
  injectedMemoryGroup,
  type MemoryGroup,
  memoryNote,
  pinned,
  startUpstreamOnLoadCore,
  statusMiB,
  stopChild,
  waitFor200,
  wrkOnLoadCore,
  wrkRequests,
} from './process-measures.ts';
import { imageCompileCache, RESTED_SECONDS, shippedNodeEnv } from './sidecar-process.ts';
import { benchKeysSecret, benchPolicy } from './signed-in-app.ts';
import { standInOperator } from './stand-in-operator.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '8' },
    // A comma-separated subset of nginx, node, oauth2-proxy, gatehouse (all four by default).
    only: { type: 'string', default: 'nginx,node,oauth2-proxy,gatehouse' },
    // injected: each proxy in a memory cgroup with the injected sidecar's default limit; none: without.
    'memory-limit': { type: 'string', default: 'injected' },
    // operator: Gatehouse gets its config from the operator's stream over HTTPS, as the injected
    // sidecar does (a stand-in operator in this process); file: from a config directory (standalone).
    'gatehouse-config': { type: 'string', default: 'operator' },
  },
});
const RUNS = Number(values.runs);
const DURATION = Number(values.duration);
const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-client-secret';

for (const tool of ['wrk', 'nginx', 'taskset']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${tool} not found; install it with: apt-get install -y wrk nginx-light util-linux`);
    process.exit(2);
  }
}
const tools = benchTools();

const GATEHOUSE_FROM_OPERATOR = values['gatehouse-config'] === 'operator';
if (!['operator', 'file'].includes(values['gatehouse-config'])) {
  console.error(`bench: --gatehouse-config: ${values['gatehouse-config']}; known: operator, file`);
  process.exit(2);
}
// Every proxy runs with the memory limit the injected sidecar container gets by default
// (injectedMemoryGroup says why).
if (!['injected', 'none'].includes(values['memory-limit'])) {
  console.error(`bench: --memory-limit: ${values['memory-limit']}; known: injected, none`);
  process.exit(2);
}
const memory: MemoryGroup =
  values['memory-limit'] === 'none' ? { error: '--memory-limit none' } : injectedMemoryGroup();
if ('error' in memory) console.error(`bench: every proxy runs without a memory limit: ${memory.error}`);

/** When each proxy process was spawned: spawn to first 200 leaves out what a start() does before. */
const spawnedAt = new WeakMap<ChildProcess, number>();

/** Starts a process pinned to core 0 (the proxy's core), in the memory group. */
function onProxyCore(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [program, argv] = pinned(memory, 0, command, args);
  const started = performance.now();
  const child = spawn(program, argv, {
    stdio: ['ignore', 'ignore', 'ignore'],
    env,
  });
  spawnedAt.set(child, started);
  children.add(child);
  return child;
}

// The measured process is the proxy's own: taskset execs into it (nginx: its worker).
interface Wrk {
  requests: number;
  p99Ms: number;
  maxMs: number;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

function wrk(url: string, connections: number, headers: string[]): Wrk {
  const out = wrkOnLoadCore(url, { connections, seconds: DURATION, headers, latency: true });
  return {
    requests: wrkRequests(out),
    p99Ms: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    maxMs: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ''),
  };
}

interface ClosedLoop {
  steadyP50: number;
  steadyP99: number;
  steadyMax: number;
  failed: number;
  non2xx: number;
}

/** 200 keep-alive clients of bench/closed-loop.ts on the load core; latencies after the first second. */
function closedLoop(url: string, clients: number, headers: string[]): ClosedLoop {
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      process.execPath,
      join(root, 'bench/closed-loop.ts'),
      url,
      String(clients),
      String(DURATION),
      ...headers,
    ],
    { encoding: 'utf8' },
  );
  const result = JSON.parse(out) as ClosedLoop;
  if (result.failed > 0 || result.non2xx > 0)
    throw new Error(`${url}: ${result.failed} requests failed and ${result.non2xx} were not 2xx`);
  return result;
}

/** CPU microseconds per request of the proxy process under wrk at saturation. */
function cpuPerRequest(pid: number, url: string, headers: string[]): number {
  wrk(url, 50, headers); // warm-up
  const before = cpuTicks(pid);
  const run = wrk(url, 50, headers);
  return ((cpuTicks(pid) - before) / HZ / run.requests) * 1e6;
}

/** p50 and p99 latency (ms) at a constant 1,000 requests/s (vegeta). */
function constantRate(url: string, headers: string[]): { p50: number; p99: number } {
  const { p50, p99, codes } = constantRateAttack(
    join(tools, 'vegeta'),
    `GET ${url}\n${headers.join('\n')}\n`,
    1000,
    DURATION,
  );
  if (Object.keys(codes).some((c) => c !== '200'))
    throw new Error(`${url}: status codes ${JSON.stringify(codes)}`);
  return { p50, p99 };
}

interface Proxy {
  readonly name: string;
  /** Work done once before any run, outside every measurement. */
  prepare?(): Promise<void>;
  start(): Promise<{ child: ChildProcess; pid: () => number; origin: string; stop?: () => Promise<void> }>;
  /** Signs in for real; the Cookie header value. Null for a proxy without sign-in. */
  signIn?(origin: string): Promise<string>;
}

interface Figures {
  spawnMs: number;
  idleMiB: number;
  idleAnonMiB: number;
  restedMiB: number;
  restedAnonMiB: number;
  restCpuMsPerS: number;
  quietCpuMsPerS: number;
  cpuAnonymous: number;
  cpuSignedIn: number | null;
  addedP50: number | null;
  addedP99: number | null;
  p99At200: number;
  /** CPU µs per request under the 200 wrk connections (signed in where the proxy signs in). */
  cpuAt200: number;
  maxAt200: number;
  steadyP50At200: number;
  steadyP99At200: number;
  steadyMaxAt200: number;
  peakMiB: number;
  anonAfterMiB: number;
  restedAfterMiB: number;
  restedAnonAfterMiB: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

// The upstream and the identity provider, on core 1 with the load.
const { port: upstreamPort, url: upstreamUrl } = await startUpstreamOnLoadCore();

const ports = {
  nginx: await freePort(),
  node: await freePort(),
  oauth2: await freePort(),
  gatehouse: await freePort(),
};
const origin = (port: number) => `http://127.0.0.1:${port}`;
const provider = await startDevProvider({
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [
        `${origin(ports.gatehouse)}/.gatehouse/callback`,
        `${origin(ports.oauth2)}/oauth2/callback`,
      ],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
});
const work = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-cost-'));

const nginx: Proxy = {
  name: 'nginx proxy_pass',
  async start() {
    const dir = mkdtempSync(join(work, 'nginx-'));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server { listen 127.0.0.1:${ports.nginx};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
    );
    const child = onProxyCore('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir]);
    // The worker serves the requests: measure it, not the master.
    const pid = () =>
      Number(
        execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
          .trim()
          .split('\n')[0],
      );
    return { child, pid, origin: origin(ports.nginx) };
  },
};

/**
 * bench/bare-node-proxy.ts as the sidecar ships: one bundled file (the shipped bundle settings)
 * with a compile cache, made by loading it once without arguments (it prints its usage and exits;
 * Node writes the cache of what it compiled), with the sidecar's NODE_OPTIONS as the image does.
 */
async function bundleBareNodeProxy(): Promise<{ file: string; compileCache: string }> {
  const file = join(work, 'bare-node-proxy.mjs');
  await build({
    ...SHIPPED_BUNDLE,
    absWorkingDir: root,
    entryPoints: [join(root, 'bench/bare-node-proxy.ts')],
    outfile: file,
    logLevel: 'warning',
  });
  const compileCache = join(work, 'bare-node-proxy-compile-cache');
  const warm = spawnSync(process.execPath, [file], {
    env: shippedNodeEnv(compileCache),
    encoding: 'utf8',
  });
  if (warm.status !== 2 || !warm.stderr.startsWith('usage:'))
    throw new Error(`bench: the bundled bare proxy did not load: exit ${warm.status}, ${warm.stderr.trim()}`);
  return { file, compileCache };
}
/** Made by its prepare(), before any run (not at all when --only leaves the bare proxy out). */
let bareNodeProxy: { file: string; compileCache: string } | undefined;

const bareNode: Proxy = {
  name: 'Node.js http + undici, bare',
  async prepare() {
    bareNodeProxy = await bundleBareNodeProxy();
  },
  async start() {
    // The sidecar's runtime as it ships (bundled, NODE_OPTIONS, compile cache), and none of its work.
    if (bareNodeProxy === undefined) throw new Error('bench: the bare proxy was not prepared');
    const { file, compileCache } = bareNodeProxy;
    const child = onProxyCore(
      process.execPath,
      [file, String(ports.node), upstreamUrl],
      shippedNodeEnv(compileCache),
    );
    return { child, pid: () => child.pid as number, origin: origin(ports.node) };
  },
};

const oauth2Proxy: Proxy = {
  name: 'oauth2-proxy v7.15.6',
  async start() {
    const child = onProxyCore(join(tools, 'oauth2-proxy'), [
      `--http-address=127.0.0.1:${ports.oauth2}`,
      '--provider=oidc',
      `--oidc-issuer-url=${provider.issuer}`,
      `--client-id=${CLIENT_ID}`,
      `--client-secret=${CLIENT_SECRET}`,
      `--redirect-url=${origin(ports.oauth2)}/oauth2/callback`,
      `--upstream=${upstreamUrl}/`,
      `--cookie-secret=${Buffer.alloc(32, 7).toString('base64url')}`,
      '--cookie-secure=false',
      '--email-domain=*',
      '--skip-provider-button=true',
      '--skip-auth-route=^/public/',
      '--request-logging=false',
      '--auth-logging=false',
      '--standard-logging=false',
      '--scope=openid email profile',
      '--code-challenge-method=S256',
    ]);
    return { child, pid: () => child.pid as number, origin: origin(ports.oauth2) };
  },
  async signIn(at) {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${at}/oauth2/start?rd=%2Fsmall`, 'alice');
    return [...browser.cookies(at)].map(([n, v]) => `${n}=${v}`).join('; ');
  },
};

const gatehouse: Proxy = {
  name: 'Gatehouse (shipped)',
  async prepare() {
    imageCompileCache(); // made once, as the image build makes it, not inside the first spawn's timing
  },
  async start() {
    const dir = mkdtempSync(join(work, 'gatehouse-'));
    const documents = [
      {
        apiVersion: 'gatehouse.dev/v1alpha1',
        kind: 'AccessApplication',
        metadata: { name: 'bench' },
        spec: {
          hosts: ['127.0.0.1'],
          upstream: { url: upstreamUrl },
          policies: [{ name: 'public' }, { name: 'signed-in' }],
          authentication: {
            externalUrl: origin(ports.gatehouse),
            identityProviders: [
              {
                name: 'dev',
                issuer: provider.issuer,
                clientId: CLIENT_ID,
                clientSecretRef: { name: 'idp', key: 'secret' },
              },
            ],
          },
        },
      },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'idp' }, stringData: { secret: CLIENT_SECRET } },
      // The application's keys as the operator keeps them (a Secret it generates once).
      benchKeysSecret('bench', generateApplicationKeys('ES256')),
      benchPolicy('public', { decision: 'bypass', include: [{ paths: ['/public/**'] }] }),
      benchPolicy('signed-in', { decision: 'allow', include: [{ everyone: true }] }),
    ];
    writeFileSync(join(dir, 'app.yaml'), documents.map((d) => stringify(d)).join('---\n'));
    const operator = GATEHOUSE_FROM_OPERATOR ? await standInOperator(dir) : undefined;
    const child = onProxyCore(
      process.execPath,
      [
        join(root, 'dist/bin/gatehouse.js'),
        'sidecar',
        ...(operator?.flags ?? ['--config', dir]),
        '--listen',
        `127.0.0.1:${ports.gatehouse}`,
        '--admin-listen',
        '127.0.0.1:0',
      ],
      shippedNodeEnv(imageCompileCache()),
    );
    return { child, pid: () => child.pid as number, origin: origin(ports.gatehouse), stop: operator?.close };
  },
  async signIn(at) {
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${at}/small`, 'alice');
    return [...browser.cookies(at)].map(([n, v]) => `${n}=${v}`).join('; ');
  },
};

/** CPU a proxy spends with nothing to do (its timers), in ms per second, over REST_SECONDS. */
async function cpuAtRest(pid: number): Promise<number> {
  const before = cpuNanos(pid);
  await new Promise((r) => setTimeout(r, REST_SECONDS * 1000));
  return (cpuNanos(pid) - before) / 1e6 / REST_SECONDS;
}
const REST_SECONDS = 5;
/** Seconds after the 200 connections at which CPU at rest is read again, for REST_SECONDS. */
const QUIET_SECONDS = 21;

async function measure(proxy: Proxy): Promise<Figures> {
  const { child, pid, origin: at, stop } = await proxy.start();
  await waitFor200(`${at}/public/small`);
  const spawnMs = performance.now() - (spawnedAt.get(child) as number);
  await new Promise((r) => setTimeout(r, 1000));
  const measured = pid();
  const idleMiB = statusMiB(measured, 'VmRSS');
  const idleAnonMiB = statusMiB(measured, 'RssAnon');
  const restCpuMsPerS = await cpuAtRest(measured);
  // Longer at rest: Gatehouse gives memory back once no request has started for 10 s
  // (--idle-collection-after); every proxy is read at the same moment.
  await new Promise((r) => setTimeout(r, (RESTED_SECONDS - 1 - REST_SECONDS) * 1000));
  const restedMiB = statusMiB(measured, 'VmRSS');
  const restedAnonMiB = statusMiB(measured, 'RssAnon');
  const cookie = proxy.signIn ? await proxy.signIn(at) : null;
  const signed = cookie === null ? [] : [`Cookie: ${cookie}`];
  if (cookie !== null) await waitFor200(`${at}/small`, { cookie });
  const cpuAnonymous = cpuPerRequest(measured, `${at}/public/small`, []);
  const cpuSignedIn = cookie === null ? null : cpuPerRequest(measured, `${at}/small`, signed);
  // The upstream alone at the same rate, just before, so both see the same machine.
  const direct = constantRate(`${upstreamUrl}/small`, []);
  const rate = constantRate(`${at}${cookie === null ? '/public/small' : '/small'}`, signed);
  wrk(`${at}${cookie === null ? '/public/small' : '/small'}`, 200, signed); // warm-up
  const beforeMany = cpuTicks(measured);
  const many = wrk(`${at}${cookie === null ? '/public/small' : '/small'}`, 200, signed);
  const cpuAt200 = ((cpuTicks(measured) - beforeMany) / HZ / many.requests) * 1e6;
  const steady = closedLoop(`${at}${cookie === null ? '/public/small' : '/small'}`, 200, signed);
  const peakMiB = statusMiB(measured, 'VmHWM');
  const anonAfterMiB = statusMiB(measured, 'RssAnon');
  await new Promise((r) => setTimeout(r, RESTED_SECONDS * 1000));
  const restedAfterMiB = statusMiB(measured, 'VmRSS');
  const restedAnonAfterMiB = statusMiB(measured, 'RssAnon');
  // At rest for good: past the idle collection and Gatehouse's event loop sampling, which end
  // 10 to 20 s after the last request.
  await new Promise((r) => setTimeout(r, (QUIET_SECONDS - RESTED_SECONDS) * 1000));
  const quietCpuMsPerS = await cpuAtRest(measured);
  await stopChild(child);
  await stop?.();
  return {
    spawnMs,
    idleMiB,
    idleAnonMiB,
    restedMiB,
    restedAnonMiB,
    restCpuMsPerS,
    quietCpuMsPerS,
    cpuAnonymous,
    cpuSignedIn,
    addedP50: rate.p50 - direct.p50,
    addedP99: rate.p99 - direct.p99,
    p99At200: many.p99Ms,
    cpuAt200,
    maxAt200: many.maxMs,
    steadyP50At200: steady.steadyP50,
    steadyP99At200: steady.steadyP99,
    steadyMaxAt200: steady.steadyMax,
    peakMiB,
    anonAfterMiB,
    restedAfterMiB,
    restedAnonAfterMiB,
  };
}

const chosen = new Set(values.only.split(','));
const known = new Map<string, Proxy>([
  ['nginx', nginx],
  ['node', bareNode],
  ['oauth2-proxy', oauth2Proxy],
  ['gatehouse', gatehouse],
]);
for (const name of chosen)
  if (!known.has(name)) {
    console.error(`bench: --only: unknown proxy ${name}; known: ${[...known.keys()].join(', ')}`);
    process.exit(2);
  }
const proxies = [...known].filter(([name]) => chosen.has(name)).map(([, proxy]) => proxy);
for (const proxy of proxies) await proxy.prepare?.();
const results = new Map<string, Figures[]>();
for (let run = 0; run < RUNS; run++)
  for (const proxy of proxies) {
    const figures = await measure(proxy);
    results.set(proxy.name, [...(results.get(proxy.name) ?? []), figures]);
    console.error(`run ${run + 1}: ${proxy.name}: ${JSON.stringify(figures)}`);
  }

const fmt = (x: number | null, digits = 1) => (x === null ? '' : x.toFixed(digits));
const col = (name: string, pick: (f: Figures) => number | null, digits = 1) =>
  fmt(
    (results.get(name) ?? []).some((f) => pick(f) === null)
      ? null
      : median((results.get(name) ?? []).map((f) => pick(f) as number)),
    digits,
  );
const names = proxies.map((p) => p.name);
const row = (label: string, pick: (f: Figures) => number | null, digits = 1) =>
  `| ${label} | ${names.map((n) => col(n, pick, digits)).join(' | ')} |`;
console.log(
  `\nnode ${process.version}; medians of ${RUNS} runs, ${DURATION} s each; proxy on core 0, load, upstream and provider on core 1; each proxy ${memoryNote(memory)}; Gatehouse's config ${GATEHOUSE_FROM_OPERATOR ? "from the operator's stream, as injected" : 'from a file'}\n`,
);
console.log(`| | ${names.join(' | ')} |`);
console.log(`|---|${names.map(() => '---:').join('|')}|`);
console.log(row('CPU µs per request, anonymous, saturation', (f) => f.cpuAnonymous));
console.log(row('CPU µs per request, signed in, saturation', (f) => f.cpuSignedIn));
console.log(row('added latency at 1,000/s (signed in), p50 ms', (f) => f.addedP50, 2));
console.log(row('added latency at 1,000/s (signed in), p99 ms', (f) => f.addedP99, 2));
console.log(row('spawn → first 200, ms', (f) => f.spawnMs, 0));
console.log(row('idle RSS, MiB', (f) => f.idleMiB, 0));
console.log(row('idle anonymous memory (not shared with other pods), MiB', (f) => f.idleAnonMiB, 0));
console.log(row(`idle RSS ${RESTED_SECONDS} s after the first answer, MiB`, (f) => f.restedMiB, 0));
console.log(
  row(`idle anonymous memory ${RESTED_SECONDS} s after the first answer, MiB`, (f) => f.restedAnonMiB, 0),
);
console.log(row('CPU at rest, ms per second', (f) => f.restCpuMsPerS, 2));
console.log(
  row(
    `CPU at rest ${QUIET_SECONDS} to ${QUIET_SECONDS + REST_SECONDS} s after the 200 connections, ms per second`,
    (f) => f.quietCpuMsPerS,
    2,
  ),
);
console.log(row('CPU µs per request, 200 connections, saturation', (f) => f.cpuAt200));
console.log(row('200 connections at saturation: p99 ms', (f) => f.p99At200, 0));
console.log(row('200 connections at saturation: slowest ms', (f) => f.maxAt200, 0));
console.log(row('200 closed-loop clients after the first second: p50 ms', (f) => f.steadyP50At200, 0));
console.log(row('200 closed-loop clients after the first second: p99 ms', (f) => f.steadyP99At200, 0));
console.log(row('200 closed-loop clients after the first second: slowest ms', (f) => f.steadyMaxAt200, 0));
console.log(row('peak RSS after 200 connections, MiB', (f) => f.peakMiB, 0));
console.log(row('anonymous memory after 200 connections, MiB', (f) => f.anonAfterMiB, 0));
console.log(row(`RSS ${RESTED_SECONDS} s after the 200 connections, MiB`, (f) => f.restedAfterMiB, 0));
console.log(
  row(`anonymous memory ${RESTED_SECONDS} s after the 200 connections, MiB`, (f) => f.restedAnonAfterMiB, 0),
);
await provider.close();
process.exit(0);
