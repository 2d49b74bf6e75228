// Authenticated-path benchmark: the same sidecar serves an anonymous small GET (a bypass policy)
// and a signed-in small GET (session cookie → allow policy → identity headers and JWT stamped).
// Prints requests/s and p50/p99 for both, and the ratio.
//
//   npm run build && node bench/auth.ts [--duration 10] [--connections 50]
//
// Needs wrk (apt-get install -y wrk).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
try {
  execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
} catch {
  console.error('bench: wrk not found; install it with: apt-get install -y wrk');
  process.exit(2);
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

async function waitForOk(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url, { headers });
      if (res.status === 200) return;
      console.error(`bench: ${url} answered ${res.status}`);
      process.exit(1);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

const upstream = spawn(process.execPath, [join(root, 'bench/upstream-server.ts'), '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(upstream);
const upstreamPort = await new Promise<number>((r) =>
  upstream.stdout?.once('data', (c) => r(Number(String(c).trim()))),
);

const sidecarPort = await freePort();
const origin = `http://127.0.0.1:${sidecarPort}`;
const { dir: work, cookie } = await writeSignedInApp(`http://127.0.0.1:${upstreamPort}`, origin);

const sidecar = spawnBuiltSidecar(work, sidecarPort);
children.push(sidecar);
await waitForOk(`${origin}/public/small`);
await waitForOk(`${origin}/small`, { cookie });

function wrk(url: string, headers: string[]): { rps: number; p50: string; p99: string } {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${duration}s`,
    '--latency',
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) {
    console.error(`bench: ${url}: ${errors[0]}`);
    process.exit(1);
  }
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?',
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?',
  };
}

console.log(
  `node ${process.version}, wrk -t1 -c${connections} -d${duration}s, cookie ${cookie.length} bytes`,
);
console.log('| request | requests/s | p50 | p99 | vs anonymous |');
console.log('|---|---:|---:|---:|---:|');
let anonymous = 0;
for (const [label, path, headers] of [
  ['anonymous small GET (bypass)', '/public/small', []],
  ['signed-in small GET (cookie, allow, headers + JWT)', '/small', [`Cookie: ${cookie}`]],
] as const) {
  wrk(`${origin}${path}`, [...headers]); // warm-up, not reported
  const r = wrk(`${origin}${path}`, [...headers]);
  if (anonymous === 0) anonymous = r.rps;
  console.log(
    `| ${label} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${((r.rps / anonymous) * 100).toFixed(0)}% |`,
  );
}
process.exit(0);
