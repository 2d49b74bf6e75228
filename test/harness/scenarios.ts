import type { Socket } from 'node:net';
import { CONTENDED_GRACE_MS } from '../../sidecar/src/net/client-rate-check.ts';
import { DEFAULT_CLIENT_LIMITS } from '../../sidecar/src/server.ts';
import { dial, type RawClient, watchSocket } from '../helpers/hostile.ts';
import { parseResponses } from './raw-exchange.ts';

/** What a raw client got so far: its first line, or nothing (open or closed). */
function whatCameBack(client: RawClient): string {
  const first = client.received().split('\r\n', 1)[0] ?? '';
  if (first !== '') return first.slice(0, 60);
  return client.isClosed() ? 'closed with nothing' : 'open with nothing';
}

/** "3 × a, 1 × b": how often each distinct string occurs, most frequent first. */
function tally(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([item, n]) => `${n} × ${item}`)
    .join(', ');
}

/** The named hostile-client scenarios the harness runs beside the fuzzer. */
export type ScenarioName =
  | 'rst-phases'
  | 'abandon-queued'
  | 'slowloris'
  | 'slow-body'
  | 'half-close'
  | 'pipelined-upgrades'
  | 'idle-keepalive'
  | 'websockets';

export interface ScenarioSizes {
  /** Idle keep-alive connections held at once. */
  readonly idleConnections: number;
  /** WebSocket tunnels held at once. */
  readonly websockets: number;
  /** Clients per trickling scenario (slowloris, slow body). */
  readonly tricklers: number;
}

/** What a scenario found wrong (empty when every expectation held). */
export type ScenarioResult = {
  readonly name: ScenarioName;
  readonly problems: string[];
  readonly ms: number;
};

const H = 'Host: 127.0.0.1\r\n';
const WS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function many<T>(n: number, make: (i: number) => Promise<T>, batch = 200): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch)
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => make(i + j)))));
  return out;
}
/** What a few connections received, in short: status lines, or how much arrived without one. */
function describeReceived(watches: readonly RawClient[]): string {
  const seen = new Map<string, number>();
  for (const w of watches) {
    const text = w.received();
    const status = /^HTTP\/1\.1 \d+[^\r]*/.exec(text)?.[0];
    // Gatehouse's error bodies name their code: the first one in the text says which refusal it was.
    const code = /"(?:code|error)"\s*:\s*"([a-z_]+)"|\b(upstream_[a-z_]+|tunnel_limit|[a-z]+_timeout)\b/.exec(
      text,
    );
    const what = status
      ? `${status}${code ? ` ${code[1] ?? code[2]}` : ''}`
      : text === ''
        ? 'nothing'
        : `${text.length} bytes, no status line`;
    const key = `${what}${w.isClosed() ? ' (closed)' : ''}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].map(([what, n]) => `${n}× ${what}`).join('; ') || 'none';
}
const src = (i: number) => `127.3.${Math.floor(i / 250)}.${1 + (i % 250)}`;

/** Runs one scenario against the sidecar on `port`. */
export async function runScenario(
  name: ScenarioName,
  port: number,
  sizes: ScenarioSizes,
): Promise<ScenarioResult> {
  const started = performance.now();
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok && problems.length < 20) problems.push(what);
  };
  switch (name) {
    case 'rst-phases': {
      const phases: [string, string, number][] = [
        ['mid-head', `GET /fuzz HTTP/1.1\r\n${H}X-Half: `, 0],
        ['before-body', `POST /upload HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n`, 5],
        ['mid-body', `POST /upload HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n0123456789`, 5],
        ['mid-response', `GET /big HTTP/1.1\r\n${H}\r\n`, 3],
        ['before-101', `GET /ws HTTP/1.1\r\n${H}${WS}\r\n`, 0],
        ['in-tunnel', `GET /ws HTTP/1.1\r\n${H}${WS}\r\n`, 30],
        ['pipelined-upgrade', `GET /slow HTTP/1.1\r\n${H}\r\nGET /ws HTTP/1.1\r\n${H}${WS}\r\n`, 10],
      ];
      for (const [, bytes, waitMs] of phases)
        await many(20, async (i) => {
          const s = await dial(port, src(i));
          if (!s) return;
          s.write(bytes);
          await sleep(waitMs + (i % 4));
          s.resetAndDestroy();
        });
      break;
    }
    case 'abandon-queued': {
      // One address fills its share of the pool with slow requests; the rest wait, then reset or FIN.
      const socks = await many(60, async () => dial(port, '127.4.0.1'));
      for (const s of socks) s?.write(`GET /slow HTTP/1.1\r\n${H}\r\n`);
      await sleep(50);
      for (const [i, s] of socks.entries()) {
        if (i % 2) s?.resetAndDestroy();
        else s?.destroy();
      }
      await sleep(600);
      const s = await dial(port, '127.4.0.1');
      if (!s) break;
      const w = watchSocket(s);
      s.write(`GET /slow HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      expect(
        await w.until(() => /HTTP\/1\.1 200/.test(w.received()), 5_000),
        'the abandoning address is served again',
      );
      s.destroy();
      break;
    }
    case 'slowloris': {
      const socks = (await many(sizes.tricklers, async (i) => dial(port, src(i)))).filter(
        (s): s is Socket => s !== null,
      );
      const watches = socks.map(watchSocket);
      const header = `GET /fuzz HTTP/1.1\r\n${H}X-Slow: ${'a'.repeat(200)}`;
      let at = 0;
      const drip = setInterval(() => {
        for (const s of socks) if (!s.destroyed) s.write(header[at % header.length] as string);
        at++;
      }, 500);
      const closedAll = async () => {
        const end = performance.now() + 15_000;
        while (watches.some((w) => !w.isClosed()) && performance.now() < end) await sleep(100);
      };
      await closedAll();
      clearInterval(drip);
      expect(
        watches.every((w) => w.isClosed()),
        'every slowloris connection closed by the header timeout',
      );
      for (const s of socks) s.destroy();
      break;
    }
    case 'slow-body': {
      // 10 bytes a second against the default 500 B/s: each upload is either parked for the
      // anonymous share of the upstream pool and answered 503 once it has waited the queue
      // timeout, or admitted and answered 408 once it has been read for the body timeout (the
      // time parked does not count, so one admitted late is answered late), or sooner while
      // others wait for its upstream connection: after the contended grace (5 s of it read,
      // counted by once-a-second checks). The wait below is the worst case plus the second
      // checks and a margin, not a guess.
      const limits = DEFAULT_CLIENT_LIMITS;
      const socks = (await many(sizes.tricklers, async (i) => dial(port, src(i)))).filter(
        (s): s is Socket => s !== null,
      );
      const watches = socks.map(watchSocket);
      const sentAt = performance.now();
      for (const s of socks) s.write(`POST /upload HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\n`);
      const drip = setInterval(() => {
        for (const s of socks) if (!s.destroyed) s.write('0123456789');
      }, 1_000);
      const answeredAt = new Map<RawClient, { status: string; ms: number }>();
      const end = sentAt + limits.queueTimeoutMs + limits.bodyTimeoutMs + 5_000;
      while (answeredAt.size < watches.length && performance.now() < end) {
        for (const w of watches) {
          const status = /^HTTP\/1\.1 (\d{3})/.exec(w.received())?.[1];
          if (status !== undefined && !answeredAt.has(w))
            answeredAt.set(w, { status, ms: Math.round(performance.now() - sentAt) });
        }
        await sleep(100);
      }
      clearInterval(drip);
      const unanswered = watches.filter((w) => !answeredAt.has(w));
      const answers = [...answeredAt.values()];
      const wrong = answers.filter((a) => a.status !== '408' && a.status !== '503');
      expect(
        unanswered.length === 0 && wrong.length === 0,
        `every slow upload answered 408 (or 503 while queued) within ${end - sentAt} ms${unanswered.length + wrong.length > 0 ? `; of ${watches.length}: ${tally([...unanswered.map(whatCameBack), ...wrong.map((a) => `${a.status} at ${a.ms} ms`)])}` : ''}`,
      );
      const lateQueued = answers.filter((a) => a.status === '503' && a.ms > limits.queueTimeoutMs + 2_000);
      expect(
        lateQueued.length === 0,
        `a queued upload answered 503 by the queue timeout (${limits.queueTimeoutMs} ms) and a check; ${lateQueued.length} later, the latest at ${Math.max(0, ...lateQueued.map((a) => a.ms))} ms`,
      );
      // The first check may come just after an upload began: 5 checks are a little over 4 s.
      const earliest = CONTENDED_GRACE_MS - 1_000;
      const cutEarly = answers.filter((a) => a.status === '408' && a.ms < earliest);
      expect(
        cutEarly.length === 0,
        `no upload cut before it was read for the contended grace (${earliest} ms at least); ${cutEarly.length} were, the first at ${Math.min(...cutEarly.map((a) => a.ms))} ms`,
      );
      for (const s of socks) s.destroy();
      break;
    }
    case 'half-close': {
      const results = await many(50, async (i) => {
        const s = await dial(port, src(i));
        if (!s) return false;
        const w = watchSocket(s);
        s.end(`GET /slow HTTP/1.1\r\n${H}\r\n`);
        const ok = await w.until(() => /slow$/.test(w.received()), 5_000);
        s.destroy();
        return ok;
      });
      expect(results.every(Boolean), `half-closed clients answered (${results.filter(Boolean).length}/50)`);
      break;
    }
    case 'pipelined-upgrades': {
      const results = await many(50, async (i) => {
        const s = await dial(port, src(i));
        if (!s) return 'no connection';
        const w = watchSocket(s);
        s.write(`GET /slow HTTP/1.1\r\n${H}\r\nGET /ws HTTP/1.1\r\n${H}${WS}\r\n`);
        await w.until(() => /101 Switching/.test(w.received()), 5_000);
        s.destroy();
        return parseResponses(w.received()).statuses.join(',');
      });
      const wrong = results.filter((r) => r !== '200,101');
      expect(
        wrong.length === 0,
        `pipelined upgrades in order (${wrong.length} not: ${wrong.slice(0, 3).join(' | ')})`,
      );
      break;
    }
    case 'idle-keepalive': {
      // Each connection sends one request as it opens (a connection silent past the header
      // timeout is closed, rightly), a batch at a time, then all are held idle together.
      const socks: Socket[] = [];
      const watches: RawClient[] = [];
      for (let i = 0; i < sizes.idleConnections; i += 100) {
        const batch = (
          await many(Math.min(100, sizes.idleConnections - i), async (j) => dial(port, src((i + j) % 5000)))
        ).filter((s): s is Socket => s !== null);
        const batchWatches = batch.map(watchSocket);
        for (const s of batch) s.write(`GET /fuzz/idle HTTP/1.1\r\n${H}\r\n`);
        const end = performance.now() + 10_000;
        while (batchWatches.some((w) => !/ok \d+$/.test(w.received())) && performance.now() < end)
          await sleep(10);
        socks.push(...batch);
        watches.push(...batchWatches);
      }
      const unanswered = watches.filter((w) => !/ok \d+$/.test(w.received()));
      const answered = watches.length - unanswered.length;
      expect(
        answered === sizes.idleConnections,
        `idle keep-alive connections answered (${answered}/${sizes.idleConnections}; the others got: ${describeReceived(unanswered)})`,
      );
      await sleep(2_000); // held idle while the legitimate traffic goes on
      const open = watches.filter((w) => !w.isClosed()).length;
      expect(open === answered, `kept alive while idle (${open}/${answered})`);
      for (const s of socks) s.destroy();
      break;
    }
    case 'websockets': {
      // Opened 250 at a time (each batch's handshakes done before the next), then all held at
      // once: what is checked is a thousand open tunnels, not a thousand handshakes in the same
      // millisecond (those queue for the anonymous share of the upstream pool like any request,
      // bounded by the queue timeout).
      const socks: Socket[] = [];
      const watches: RawClient[] = [];
      const end = performance.now() + 30_000;
      for (let i = 0; i < sizes.websockets; i += 250) {
        const batch = (
          await many(Math.min(250, sizes.websockets - i), async (j) => dial(port, src(i + j)), 250)
        ).filter((s): s is Socket => s !== null);
        const batchWatches = batch.map(watchSocket);
        for (const s of batch) s.write(`GET /ws HTTP/1.1\r\n${H}${WS}\r\n`);
        while (batchWatches.some((w) => !/101 Switching/.test(w.received())) && performance.now() < end)
          await sleep(100);
        socks.push(...batch);
        watches.push(...batchWatches);
      }
      for (const s of socks) s.write('ping-through-the-tunnel');
      await sleep(1_000);
      const silent = watches.filter((w) => !w.received().endsWith('ping-through-the-tunnel'));
      const echoed = watches.length - silent.length;
      expect(
        echoed === sizes.websockets,
        `tunnels open and echoing (${echoed}/${sizes.websockets}; the others got: ${describeReceived(silent)})`,
      );
      for (const s of socks) s.destroy();
      break;
    }
  }
  return { name, problems, ms: Math.round(performance.now() - started) };
}
