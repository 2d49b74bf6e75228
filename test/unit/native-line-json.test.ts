import { describe, expect, it } from 'vitest';
import { NativeRequestLine } from '../../contract/log-line.ts';
import { LineWriter } from '../../lib/log/line-writer.ts';
import { toJsonLine } from '../../lib/log/sanitize.ts';
import { writeNativeLine } from '../../sidecar/src/log/native-line-json.ts';
import { seededRandom as random, randomText } from '../helpers/seeded-random.ts';

/** Characters that need care in JSON and in log viewers, among plain ones. */
const NASTY = [
  '"',
  '\\',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u00a0',
  '\u00ff',
  '\u2028',
  '\u2029',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '/',
  '<',
  'é',
  '日',
];

const text = (next: () => number): string => randomText(next, NASTY);

function number(next: () => number): number {
  const r = next();
  if (r < 0.05) return Number.NaN;
  if (r < 0.08) return Number.POSITIVE_INFINITY;
  if (r < 0.1) return -0;
  if (r < 0.15) return 1e21 * next();
  if (r < 0.2) return 1e-7 * next();
  if (r < 0.5) return Math.floor(next() * 100000);
  if (r < 0.55) return Math.round(next() * 1e15) / 1000; // past the integer fast path
  if (r < 0.6) return -Math.round(next() * 1e6) / 1000;
  if (r < 0.7) return Math.round(next() * 100) / 1000; // 0.001 to 0.1
  return Math.round(next() * 1e6) / 1000;
}

const maybe = <T>(next: () => number, make: () => T): T | null => (next() < 0.3 ? null : make());

/** A record with every field of the schema, in the order the sidecar builds it. */
function record(next: () => number): NativeRequestLine {
  const decision = () => ({
    action: text(next),
    policy: maybe(next, () => text(next)),
    rule: maybe(next, () => text(next)),
    reason: text(next),
  });
  return {
    type: 'request',
    time: text(next),
    requestId: text(next),
    traceId: text(next),
    seq: number(next),
    app: text(next),
    host: text(next),
    method: text(next),
    uri: text(next),
    protocol: text(next),
    status: number(next),
    outcome: text(next) as NativeRequestLine['outcome'],
    error: maybe(next, () => text(next)),
    errorCause: maybe(next, () => text(next) as NonNullable<NativeRequestLine['errorCause']>),
    bytesIn: number(next),
    bytesOut: number(next),
    start: text(next),
    end: text(next),
    durationMs: number(next),
    upstreamMs: maybe(next, () => number(next)),
    clientIp: text(next),
    peerIp: text(next),
    // Only on requests through a private endpoint; left out (undefined) otherwise.
    privateEndpoint: next() < 0.5 ? undefined : text(next),
    userAgent: maybe(next, () => text(next)),
    identity: maybe(next, () => ({
      kind: text(next),
      sub: text(next),
      email: maybe(next, () => text(next)),
      idp: maybe(next, () => text(next)),
    })),
    sessionId: maybe(next, () => text(next)),
    endedSession: maybe(next, () => ({
      sessionId: text(next),
      reason: 'revoked' as const,
      sub: text(next),
      email: maybe(next, () => text(next)),
      idp: text(next),
    })),
    authMethod: maybe(next, () => text(next)),
    decision: maybe(next, decision),
    auditDecision: maybe(next, decision),
    upgrade: next() < 0.5,
    configGeneration: text(next),
    requestHeaders: maybe(next, () => {
      const h: Record<string, string> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) h[text(next)] = text(next);
      return h;
    }),
  };
}

/** The bytes of every line the writer holds, in order. */
function written(w: LineWriter): Buffer {
  return Buffer.concat(w.take().map(({ chunk, end }) => chunk.subarray(0, end)));
}

describe('native request line JSON', () => {
  it('writes the same bytes as JSON.stringify with control escaping, on 20,000 made-up records', () => {
    const next = random(1234);
    // 64-byte chunks: nearly every line moves to a new chunk partway, at every kind of field.
    for (const chunkBytes of [64, 4096]) {
      const w = new LineWriter(chunkBytes);
      for (let i = 0; i < 10_000; i++) {
        const r = record(next);
        w.line((line) => writeNativeLine(line, r));
        expect(written(w).toString('utf8')).toBe(`${toJsonLine(r)}\n`);
      }
    }
  });

  it('writes a batch of lines as one JSON document per line, in order', () => {
    const next = random(77);
    const w = new LineWriter(1024);
    const records = Array.from({ length: 500 }, () => record(next));
    for (const r of records) w.line((line) => writeNativeLine(line, r));
    expect(written(w).toString('utf8')).toBe(records.map((r) => `${toJsonLine(r)}\n`).join(''));
  });

  it('writes the fields in the order of the log schema', () => {
    const w = new LineWriter();
    const r = { ...record(random(5)), privateEndpoint: 'aws:vpce-0abc' };
    w.line((line) => writeNativeLine(line, r));
    const line = JSON.parse(written(w).toString('utf8')) as object;
    expect(Object.keys(line)).toEqual(Object.keys(NativeRequestLine.properties));
  });
});
