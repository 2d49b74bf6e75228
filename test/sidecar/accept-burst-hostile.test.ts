import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dial, type RawClient, sleep, watchSocket } from '../helpers/hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A burst of new clients while the sidecar's event loop is not accepting (a long collection, a
// busy moment, here a stopped process). The kernel completes handshakes into the listen queue up
// to its backlog; past it, it drops them and each client waits for its own retransmission (a
// second, then three, then seven). With Node.js's default backlog of 511 a burst of 1,500 left
// about a thousand clients waiting that long: in the adversarial run, connections answered ten
// seconds late. The sidecar listens with a backlog of 4,096 (--listen-backlog).

const BURST = 1_500;
const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
const GET = (i: number) => `GET /burst/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/**
 * How long the burst waits, the sidecar still stopped, for its handshakes: ample for the kernel and
 * this process on a loaded machine, and short of the second retransmission (at 3 s) of a dropped one.
 */
const WAIT_MS = 2_000;

let upstream: TestUpstream;
let proc: SidecarProcess;

/**
 * Starts BURST handshakes to `port` from `127.<net>.x.y` and waits up to WAIT_MS for them; a
 * handshake that completes after `stop()` is closed at once, so the count stays what was seen.
 */
async function burstOfHandshakes(port: number, net: number): Promise<{ sockets: Socket[]; stop(): void }> {
  const sockets: Socket[] = [];
  let counted = false;
  for (let i = 0; i < BURST; i++)
    void dial(port, `127.${net}.${Math.floor(i / 250)}.${1 + (i % 250)}`).then((s) => {
      if (s && counted) s.destroy();
      else if (s) sockets.push(s);
    });
  const until = performance.now() + WAIT_MS;
  while (sockets.length < BURST && performance.now() < until) await sleep(20);
  return {
    sockets,
    stop() {
      counted = true;
    },
  };
}

beforeAll(async () => {
  upstream = await startUpstream();
  proc = await startSidecarProcess(loopbackAppDir(upstream.url));
});
afterAll(async () => {
  if (proc?.child.signalCode === null) proc.child.kill('SIGCONT');
  await proc?.stop();
  await upstream?.close();
});

describe('a burst of new clients while the sidecar is not accepting', () => {
  it(`the kernel holds all ${BURST} handshakes for it, and each is answered once it accepts again`, async () => {
    // The check is about the sidecar's backlog; a node whose somaxconn is smaller caps it below the burst.
    expect(somaxconn, 'net.core.somaxconn on this machine').toBeGreaterThan(BURST);
    expect(proc.child.kill('SIGSTOP')).toBe(true);
    let burst: Awaited<ReturnType<typeof burstOfHandshakes>> | undefined;
    try {
      burst = await burstOfHandshakes(proc.port, 5);
    } finally {
      burst?.stop();
      proc.child.kill('SIGCONT');
    }
    const connected = [...burst.sockets];
    try {
      expect(BURST - connected.length, 'clients whose handshake the kernel dropped').toBe(0);
      const clients: RawClient[] = connected.map(watchSocket);
      connected.forEach((s, i) => {
        s.write(GET(i));
      });
      const answered = await Promise.all(
        clients.map((c) => c.until(() => /HTTP\/1\.1 200/.test(c.received()), 15_000)),
      );
      expect(answered.filter((ok) => !ok).length, 'clients not answered 200').toBe(0);
      expect(proc.child.exitCode).toBeNull();
    } finally {
      for (const s of connected) s.destroy();
    }
  }, 60_000);
});

describe('a crowd at the admin port while the sidecar is not accepting', () => {
  it('a kubelet probe that comes after it still gets its handshake, and its answer once the sidecar runs', async () => {
    // The admin port is on the pod network: anyone there can crowd it. A probe whose handshake
    // the kernel dropped waits a second for its own retry, as long as a probe's default timeout.
    expect(somaxconn, 'net.core.somaxconn on this machine').toBeGreaterThan(BURST);
    expect(proc.child.kill('SIGSTOP')).toBe(true);
    let burst: Awaited<ReturnType<typeof burstOfHandshakes>> | undefined;
    let probe: Socket | null = null;
    try {
      burst = await burstOfHandshakes(proc.adminPort, 6);
      const probing = dial(proc.adminPort, '127.6.99.1');
      probe = await Promise.race([probing, sleep(500).then(() => null)]);
      void probing.then((s) => {
        if (s && s !== probe) s.destroy();
      });
    } finally {
      burst?.stop();
      proc.child.kill('SIGCONT');
    }
    const crowd = [...burst.sockets];
    try {
      expect(BURST - crowd.length, 'crowd handshakes the kernel dropped').toBe(0);
      expect(probe, "the probe's handshake").not.toBeNull();
      const client = watchSocket(probe as Socket);
      probe?.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      expect(await client.until(() => /HTTP\/1\.1 200/.test(client.received()), 5_000)).toBe(true);
      expect(proc.child.exitCode).toBeNull();
    } finally {
      probe?.destroy();
      for (const s of crowd) s.destroy();
    }
  }, 60_000);
});

describe('clients that leave or stall while waiting in the listen queue', () => {
  it('a reset, a FIN, half a head and silence while queued cost nothing; the polite ones are answered', async () => {
    expect(proc.child.kill('SIGSTOP')).toBe(true);
    const sockets: Socket[] = [];
    try {
      const dialed = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          dial(proc.port, `127.8.${Math.floor(i / 250)}.${1 + (i % 250)}`),
        ),
      );
      for (const s of dialed) if (s) sockets.push(s);
      expect(sockets.length).toBe(400);
      sockets.forEach((s, i) => {
        const kind = i % 4;
        if (kind === 0)
          s.resetAndDestroy(); // RST while queued
        else if (kind === 1)
          s.end(GET(i)); // a whole request, then FIN
        else if (kind === 2)
          s.write('GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: '); // half a head, then silence
        else s.write(GET(i)); // polite
      });
      await sleep(300);
    } finally {
      proc.child.kill('SIGCONT');
    }
    try {
      const polite = sockets.filter((_, i) => i % 4 === 3).map(watchSocket);
      const answered = await Promise.all(
        polite.map((c) => c.until(() => /HTTP\/1\.1 200/.test(c.received()), 15_000)),
      );
      expect(answered.filter((ok) => !ok).length, 'polite clients not answered 200').toBe(0);
      expect(proc.child.exitCode).toBeNull();
      expect(proc.stderr()).not.toMatch(/Unhandled|ECONNRESET|EPIPE/);
    } finally {
      for (const s of sockets) s.destroy();
    }
  }, 60_000);
});

describe('a listen backlog the kernel caps', () => {
  it('is said once at start, with both numbers and how to raise the cap; the default under the cap says nothing', async () => {
    const asked = somaxconn + 1;
    const capped = await startSidecarProcess(loopbackAppDir(upstream.url), [
      '--listen-backlog',
      String(asked),
    ]);
    try {
      const line = await capped.waitForLine((l) => l.type === 'listen_backlog_capped');
      expect(line).toMatchObject({ requested: asked, effective: somaxconn });
      expect(String(line.hint)).toContain('net.core.somaxconn');
      expect(capped.lines.filter((l) => l.type === 'listen_backlog_capped')).toHaveLength(1);
    } finally {
      await capped.stop();
    }
    expect(proc.lines.some((l) => l.type === 'listen_backlog_capped')).toBe(false);
  });
});
