import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/fixtures.ts';
import { openRaw } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The request line is now written field by field (sidecar/src/log/native-line-json.ts). What a
// client controls reaches it: the target, the Host, the method, the User-Agent and the logged
// headers, as raw bytes. Whatever they hold, every request still gets exactly one line that
// parses as JSON, carries the bytes the client sent, and has no raw control character or line
// separator a log viewer or terminal would act on; and requests that are cut off mid-way, or
// trickle, still get theirs.

/** Every character a log reader must never see raw: C0, DEL, C1 and the Unicode line separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  upstream = await startUpstream();
  gate = await startSidecar(
    testConfig({ upstream: { url: upstream.url }, logging: { requestHeaders: ['x-team', 'referer'] } }),
    { headersTimeoutMs: 500 },
  );
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

/** Lines written so far, checked: one JSON object per line, nothing raw a viewer would act on. */
function checkedLines(): Record<string, unknown>[] {
  return gate.lines.map((line) => {
    expect(line).not.toMatch(RAW_CONTROL);
    expect(line.includes('\n')).toBe(false);
    return JSON.parse(line) as Record<string, unknown>;
  });
}

/** A request head carrying these bytes as its User-Agent and X-Team, then `rest` (ending the head). */
function headWith(target: string, agent: Buffer, team: Buffer, rest: string): Buffer {
  return Buffer.concat([
    Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: `),
    agent,
    Buffer.from('\r\nX-Team: '),
    team,
    Buffer.from(`\r\n${rest}Connection: close\r\n\r\n`),
  ]);
}

/** Sends a head on a connection of its own and waits until the connection closed and its line is written. */
async function sendOnce(head: Buffer): Promise<void> {
  const before = gate.records().length;
  const client = await openRaw(gate.port);
  client.socket.write(head);
  await client.closed;
  await expect.poll(() => gate.records().length, { timeout: 2000 }).toBe(before + 1);
}

describe('the request line against hostile header bytes', () => {
  it('latin1 controls, quotes and backslashes in the User-Agent and logged headers come out escaped and intact', async () => {
    // C1 bytes (0x80 to 0x9f: obs-text, which HTTP allows; DEL is refused by the parser), a quote, a backslash, a tab and latin1 letters; Node's parser lets all of them through.
    const agent = Buffer.from([0x41, 0x22, 0x5c, 0x80, 0x85, 0x9b, 0x5b, 0x33, 0x31, 0x6d, 0x09, 0xe9, 0xff]);
    const team = Buffer.from('a","b":"c\\"', 'latin1');
    const head = headWith('/x?q=%22%5C', agent, team, 'X-TEAM: second\r\nReferer: \\u2028\r\n');
    await sendOnce(head);
    const line = checkedLines().at(-1) as Record<string, unknown>;
    expect(line.userAgent).toBe(agent.toString('latin1'));
    expect(line.requestHeaders).toEqual({
      'x-team': `${team.toString('latin1')}, second`,
      referer: '\\u2028',
    });
    expect(line.uri).toBe('/x?q=%22%5C');
    expect(line.status).toBe(200);
  });

  it('UTF-8 in the User-Agent and logged headers is logged as the text it encodes, its line separators and C1 controls escaped', async () => {
    // `Café ☕`, then U+2028 and U+0085 (NEL) as UTF-8: once read as UTF-8 they are the very
    // characters a log viewer acts on, so they must come out escaped.
    const agent = Buffer.from('Café ☕ \u2028 \u0085 開発', 'utf8');
    const team = Buffer.from('équipe "a"', 'utf8');
    const head = headWith('/utf8', agent, team, '');
    await sendOnce(head);
    const raw = gate.lines.at(-1) as string;
    expect(raw).toContain('\\u2028');
    expect(raw).toContain('\\u0085');
    const line = checkedLines().at(-1) as Record<string, unknown>;
    expect(line.userAgent).toBe('Café ☕ \u2028 \u0085 開発');
    expect(line.requestHeaders).toEqual({ 'x-team': 'équipe "a"' });
    // What the application was sent is the bytes the client sent.
    const seen = upstream.seen.find((r) => r.url === '/utf8');
    expect(Buffer.from(seen?.headers['user-agent'] as string, 'latin1').equals(agent)).toBe(true);
  });

  it('a head cut off after a hostile User-Agent (RST) and one trickled in bytes: a line each, still serving', async () => {
    const before = gate.records().length;
    const cut = await openRaw(gate.port);
    cut.socket.write(
      Buffer.from('GET /cut HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \x85\x9f"\\\r\n\r\n', 'latin1'),
    );
    cut.socket.resetAndDestroy();
    await cut.closed;

    const slow = await openRaw(gate.port);
    const bytes = Buffer.from(
      'GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \x9b[2J"\r\nConnection: close\r\n\r\n',
      'latin1',
    );
    for (const byte of bytes) {
      if (slow.socket.destroyed) break;
      slow.socket.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 2));
    }
    await slow.closed;
    await expect.poll(() => gate.records().length, { timeout: 3000 }).toBeGreaterThanOrEqual(before + 2);
    const lines = checkedLines().slice(-2);
    expect(lines.map((l) => l.uri).sort()).toEqual(['/cut', '/slow']);
    const res = await request(`${gate.url}/after`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('a head that goes silent gets its 408 and its line; a flood of 200 hostile requests gets 200 lines', async () => {
    const before = gate.records().length;
    const timedOut = () =>
      checkedLines().filter((l) => l.status === 408 && l.outcome === 'client_timeout').length;
    const timedOutBefore = timedOut();
    const silent = await openRaw(gate.port);
    silent.socket.write('GET /silent HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: "\\');
    await silent.closed;
    const hostile = (i: number) =>
      `GET /p${i}?"=\\ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \x80${i}"\\\r\nX-Team: ${'"'.repeat(i % 7)}\r\n\r\n`;
    // Eight connections of 25 pipelined each (a connection holds at most 32 unanswered).
    const floods = await Promise.all(Array.from({ length: 8 }, () => openRaw(gate.port)));
    floods.forEach((flood, c) => {
      const pipelined = Array.from({ length: 25 }, (_, i) => hostile(c * 25 + i)).join('');
      flood.socket.write(
        Buffer.from(
          `${pipelined}GET /last HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
          'latin1',
        ),
      );
    });
    await Promise.all(floods.map((flood) => flood.closed));
    await expect.poll(() => gate.records().length, { timeout: 5000 }).toBeGreaterThanOrEqual(before + 209);
    const lines = checkedLines();
    // The head never ended, so its line knows no method or target: a 408 with the peer's address.
    expect(timedOut()).toBe(timedOutBefore + 1);
    const flooded = lines.filter((l) => typeof l.uri === 'string' && l.uri.startsWith('/p'));
    expect(flooded).toHaveLength(200);
    for (const l of flooded) {
      const i = Number(/^\/p(\d+)/.exec(l.uri as string)?.[1]);
      expect(l.userAgent).toBe(`\x80${i}"\\`);
      expect(l.requestHeaders).toEqual({ 'x-team': '"'.repeat(i % 7) });
    }
  });
});
