// Proxy benchmark: wrk against the upstream directly, through the Gatehouse sidecar, and through
// nginx proxy_pass (the ceiling for one proxy hop). Prints requests/s and p50/p99 latency.
//
//   node bench/proxy.ts [--duration 10] [--connections 50]
//
// Needs wrk and nginx (apt-get install -y wrk nginx-light) and a build (npm run build).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './process-measures.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);

function need(command: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${command} not found; install it with: apt-get install -y wrk nginx-light`);
    process.exit(2);
  }
}
need('wrk');
need('nginx');

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffer = '';
    child.stdout?.on('data', (c) => {
      buffer += c;
      const nl = buffer.indexOf('\n');
      if (nl !== -1) resolvePromise(buffer.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`process exited with ${code}`)));
  });
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      }).on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

const upstream = spawn(process.execPath, [join(root, 'bench/upstream-server.ts'), '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(upstream);
const upstreamPort = Number(await firstLine(upstream));

const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
writeFileSync(
  join(work, 'app.yaml'),
  // Policies as a typical app has them: a deny listed first, then a bypass for the local network.
  `apiVersion: gatehouse.dev/v1alpha1
kind: AccessApplication
metadata: {name: bench}
spec:
  hosts: [127.0.0.1]
  upstream: {url: 'http://127.0.0.1:${upstreamPort}'}
  policies: [{name: block-admin}, {name: local}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: block-admin}
spec: {decision: deny, include: [{paths: ['/admin/**']}]}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: local}
spec: {decision: bypass, include: [{ipRanges: [127.0.0.0/8]}], exclude: [{paths: ['/admin/**']}]}
`,
);
const sidecarPort = await freePort();
const sidecar = spawnBuiltSidecar(work, sidecarPort);
children.push(sidecar);

const nginxPort = await freePort();
writeFileSync(
  join(work, 'nginx.conf'),
  `worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log /dev/null;
  client_body_temp_path ${work}; proxy_temp_path ${work}; fastcgi_temp_path ${work}; uwsgi_temp_path ${work}; scgi_temp_path ${work};
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Request-Id $request_id;
      proxy_buffering off;
    }
  }
}
`,
);
const nginx = spawn('nginx', ['-c', join(work, 'nginx.conf'), '-p', work], { stdio: 'inherit' });
children.push(nginx);
await Promise.all([waitForPort(sidecarPort), waitForPort(nginxPort)]);

interface Result {
  rps: number;
  p50: string;
  p99: string;
}

function wrk(url: string): Result {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', url], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) {
    // Refused or failed requests would make the numbers meaningless.
    console.error(`bench: ${url}: ${errors[0]}`);
    process.exit(1);
  }
  return { rps, p50, p99 };
}

const targets = [
  ['direct', upstreamPort],
  ['gatehouse sidecar', sidecarPort],
  ['nginx proxy_pass', nginxPort],
] as const;

console.log(
  `node ${process.version}, ${(await import('node:os')).cpus().length} cores, wrk -t1 -c${connections} -d${duration}s`,
);
for (const [name, path] of [
  ['small GET (2 B)', '/small'],
  ['1 MiB GET', '/1m'],
] as const) {
  console.log(`\n${name}`);
  console.log('| target | requests/s | p50 | p99 | vs direct |');
  console.log('|---|---:|---:|---:|---:|');
  let direct = 0;
  for (const [label, port] of targets) {
    wrk(`http://127.0.0.1:${port}${path}`); // warm-up pass is not reported
    const r = wrk(`http://127.0.0.1:${port}${path}`);
    if (label === 'direct') direct = r.rps;
    console.log(
      `| ${label} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${((r.rps / direct) * 100).toFixed(0)}% |`,
    );
  }
}
process.exit(0);
