import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceparent, traceIdOf } from '../../sidecar/src/http/trace-context.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// W3C trace context: the application gets a traceparent Gatehouse chose (a trusted proxy's, or a
// new one), and every request line and auth event carries its trace id, so a SIEM can join them
// with the application's traces. A client cannot choose the trace its requests are logged under.

const INBOUND = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const INBOUND_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdOf', () => {
  it.each([
    ['version 00', INBOUND, INBOUND_TRACE],
    ['a later version with more fields', `01-${INBOUND_TRACE}-00f067aa0ba902b7-01-extra`, INBOUND_TRACE],
    ['version 00 with more fields', `${INBOUND}-extra`, undefined],
    ['version ff', `ff-${INBOUND_TRACE}-00f067aa0ba902b7-01`, undefined],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, undefined],
    ['an all-zero parent id', `00-${INBOUND_TRACE}-${'0'.repeat(16)}-01`, undefined],
    ['upper case', INBOUND.toUpperCase(), undefined],
    ['a short trace id', '00-4bf92f35-00f067aa0ba902b7-01', undefined],
    ['junk', 'hello', undefined],
  ])('%s', (_, value, expected) => {
    expect(traceIdOf(value)).toBe(expected);
  });

  it('new traces are well-formed, sampled and all different', () => {
    const made = Array.from({ length: 1000 }, () => newTraceparent());
    for (const { traceparent, traceId } of made) {
      expect(traceIdOf(traceparent)).toBe(traceId);
      expect(traceparent.endsWith('-01')).toBe(true);
    }
    expect(new Set(made.map((m) => m.traceId)).size).toBe(1000);
  });
});

describe('trace context through the sidecar', () => {
  let upstream: TestUpstream;
  let untrusted: InProcessSidecar;
  let trusted: InProcessSidecar;
  let cloudflare: InProcessSidecar;
  beforeAll(async () => {
    upstream = await startUpstream();
    untrusted = await startSidecar(testConfig({ upstream: { url: upstream.url } }));
    trusted = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, trustedProxies: ['127.0.0.1'] }),
    );
    cloudflare = await startSidecar(
      testConfig({ upstream: { url: upstream.url }, logging: { profile: 'cloudflare' } }),
    );
  });
  afterAll(async () => {
    await untrusted.close();
    await trusted.close();
    await cloudflare.close();
    await upstream.close();
  });

  /** Sends a request with the given headers; what the upstream got, and the request's log line. */
  async function through(gate: InProcessSidecar, headers: readonly string[]) {
    const before = upstream.seen.length;
    const records = gate.records().length;
    const text = `GET /public/ HTTP/1.1\r\nHost: localhost\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;
    expect(statusOf(await rawRequest(gate.port, text))).toBe(200);
    const seen = upstream.seen[before]?.rawHeaders ?? [];
    const values = (name: string) =>
      seen.filter((_, i) => i % 2 === 1 && seen[i - 1]?.toLowerCase() === name);
    const line = (await gate.waitForRecords(records + 1))[records] as Record<string, unknown>;
    return { traceparent: values('traceparent'), tracestate: values('tracestate'), line };
  }

  it("starts a new trace for a client's request, whatever traceparent the client sent", async () => {
    for (const headers of [[], [`traceparent: ${INBOUND}`, 'tracestate: vendor=evil']]) {
      const { traceparent, tracestate, line } = await through(untrusted, headers);
      expect(traceparent).toHaveLength(1);
      const traceId = traceIdOf(traceparent[0] as string);
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe(INBOUND_TRACE);
      expect(tracestate).toEqual([]);
      expect(line.traceId).toBe(traceId);
    }
  });

  it("passes a trusted proxy's well-formed trace context on unchanged, and logs its trace id", async () => {
    const { traceparent, tracestate, line } = await through(trusted, [
      `traceparent: ${INBOUND}`,
      'tracestate: congo=t61rcWkgMzE',
    ]);
    expect(traceparent).toEqual([INBOUND]);
    expect(tracestate).toEqual(['congo=t61rcWkgMzE']);
    expect(line.traceId).toBe(INBOUND_TRACE);
  });

  it("replaces a trusted proxy's malformed traceparent, dropping its tracestate", async () => {
    const { traceparent, tracestate, line } = await through(trusted, [
      `traceparent: 00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      'tracestate: congo=t61rcWkgMzE',
    ]);
    expect(traceIdOf(traceparent[0] as string)).toBe(line.traceId);
    expect(tracestate).toEqual([]);
  });

  it('carries the trace id in the Cloudflare profile, and in lines of refused requests', async () => {
    const { traceparent, line } = await through(cloudflare, []);
    expect(line.GatehouseTraceID).toBe(traceIdOf(traceparent[0] as string));
    // A request refused by the parser never reached the upstream, and still has one.
    await rawRequest(untrusted.port, 'GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const refused = untrusted.records().at(-1) as Record<string, unknown>;
    expect(refused.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
