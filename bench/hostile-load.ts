/**
 * 1,000 hostile clients at once against the built sidecar with its default limits: slow
 * uploads, requests abandoned while queued, slowloris heads and upgrades reset mid-handshake,
 * each kept at a quarter of the total (a client that is cut reconnects), all anonymous on a
 * bypass path from many addresses. Meanwhile a signed-in user (a session cookie sealed as the
 * sign-in callback does) keeps requesting; its latency is reported per 10 s window. When the
 * attack stops, the time until the pool is healthy again (no slot held, anonymous requests
 * answered at once) is measured.
 *
 *   npm run build && node bench/hostile-load.ts [--seconds 60] [--clients 1000]
 */
import './bench-tmpdir.ts';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { LEGIT_PREFIX, startInvariantUpstream } from '../test/harness/invariant-upstream.ts';
import { dial } from '../test/helpers/hostile.ts';
import { spawnBuiltSidecar } from './sidecar-process.ts';
import { writeSignedInApp } from './signed-in-app.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, clients: { type: 'string', default: '1000' } },
});
const seconds = Number(values.seconds);
const perKind = Math.floor(Number(values.clients) / 4);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const H = 'Host: 127.0.0.1\r\n';

const upstream = await startInvariantUpstream();
const port = 20_000 + Math.floor(Math.random() * 20_000);
const origin = `http://127.0.0.1:${port}`;
const { dir, cookie } = await writeSignedInApp(upstream.url, origin, 'hostile');
const sidecar = spawnBuiltSidecar(dir, port);
process.on('exit', () => sidecar.kill('SIGKILL'));
for (let i = 0; ; i++) {
  try {
    await request(`${origin}/public/ready`).then((r) => r.body.text());
    break;
  } catch {
    if (i > 200) throw new Error('sidecar did not start');
    await sleep(50);
  }
}
const rssMiB = () =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sidecar.pid}/status`, 'utf8'))?.[1]) / 1024);
let attacking = true;
const from = (i: number) => `127.5.${Math.floor(i / 250) % 250}.${1 + (i % 250)}`;
const held = new Set<Socket>();
const kinds: Record<string, (i: number) => Promise<void>> = {
  async slowUpload(i) {
    const s = await dial(port, from(i));
    if (!s) return;
    held.add(s);
    s.write(`POST /public/upload HTTP/1.1\r\n${H}Content-Length: 1000000\r\n\r\n`);
    while (attacking && !s.destroyed && s.writable) {
      s.write('0123456789');
      await sleep(1_000);
    }
    s.destroy();
    held.delete(s);
  },
  async abandonQueued(i) {
    const s = await dial(port, from(i + 10_000));
    if (!s) return;
    s.write(`GET /public/slow HTTP/1.1\r\n${H}\r\n`);
    await sleep(20 + (i % 50));
    s.resetAndDestroy();
  },
  async slowloris(i) {
    const s = await dial(port, from(i + 20_000));
    if (!s) return;
    held.add(s);
    const head = `GET /public/x HTTP/1.1\r\n${H}X-Slow: ${'a'.repeat(5000)}`;
    for (let at = 0; attacking && !s.destroyed && s.writable && at < head.length; at++) {
      s.write(head[at] as string);
      await sleep(1_000);
    }
    s.destroy();
    held.delete(s);
  },
  async resetUpgrade(i) {
    const s = await dial(port, from(i + 30_000));
    if (!s) return;
    s.write(
      `GET /public/ws HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await sleep(i % 30);
    s.resetAndDestroy();
  },
};
const attackers = Object.entries(kinds).flatMap(([, run]) =>
  Array.from({ length: perKind }, async (_, i) => {
    while (attacking) await run(i);
  }),
);

// The signed-in user: one request at a time, as fast as answered, through the whole attack.
const windows: number[][] = [];
let failures = 0;
const started = performance.now();
const rss = { start: rssMiB(), peak: 0 };
const signedIn = (async () => {
  let n = 0;
  while (attacking) {
    const t0 = performance.now();
    try {
      const res = await request(`${origin}${LEGIT_PREFIX}${n++}`, {
        headers: { cookie },
        headersTimeout: 10_000,
      });
      if (res.statusCode !== 200) failures++;
      await res.body.text();
    } catch {
      failures++;
    }
    const w = Math.floor((t0 - started) / 10_000);
    windows[w] ??= [];
    windows[w].push(performance.now() - t0);
    rss.peak = Math.max(rss.peak, rssMiB());
    await sleep(20);
  }
})();
await sleep(seconds * 1000);
attacking = false;
await signedIn;
for (const s of held) s.destroy();
await Promise.all(attackers);

// Recovery: the pool is healthy when anonymous requests are answered at once again.
const stoppedAt = performance.now();
let healthyMs = -1;
while (performance.now() - stoppedAt < 60_000) {
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      request(`${origin}/public/ok-${i}`, { headersTimeout: 5_000 })
        .then(async (r) => {
          await r.body.text();
          return r.statusCode;
        })
        .catch(() => 0),
    ),
  );
  if (answers.every((s) => s === 200) && performance.now() - t0 < 200) {
    healthyMs = Math.round(performance.now() - stoppedAt);
    break;
  }
  await sleep(100);
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0);
};
const all = windows.flat();
const report = {
  hostileClients: perKind * 4,
  seconds,
  signedIn: {
    requests: all.length,
    failures,
    p50Ms: pct(all, 0.5),
    p99Ms: pct(all, 0.99),
    maxMs: pct(all, 1),
    p99MsPer10s: windows.map((w) => pct(w, 0.99)),
  },
  recoveryMs: healthyMs,
  rssMiB: { ...rss, end: rssMiB() },
  upstreamRequests: upstream.received.count,
  invariantViolations: upstream.violations.length,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
sidecar.kill('SIGTERM');
await upstream.close();
process.exit(report.signedIn.p99Ms < 1000 && failures === 0 && healthyMs >= 0 ? 0 : 1);
