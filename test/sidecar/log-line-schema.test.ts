import Value from 'typebox/value';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudflareRequestLine, NativeRequestLine } from '../../contract/log-line.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { startSidecar } from '../helpers/in-process.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startUpstream } from '../helpers/upstream.ts';

// Real request lines, of served, refused, malformed and failed requests, in both profiles, match
// the schema the reference is generated from (contract/log-line.ts): no field more, none less.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function linesOf(profile: 'native' | 'cloudflare'): Promise<unknown[]> {
  const upstream = await startUpstream((req, res) => {
    if (req.url?.startsWith('/boom')) res.destroy();
    else res.end('ok');
  });
  const gate = await startSidecar(
    testConfig({ upstream: { url: upstream.url }, logging: { profile, requestHeaders: ['referer'] } }),
  );
  cleanups.push(
    () => upstream.close(),
    () => gate.close(),
  );
  await (await request(`${gate.url}/served?x=1`, { headers: { referer: 'https://r.test/' } })).body.dump();
  await (await request(`${gate.url}/boom`)).body.dump();
  await (await request(`${gate.url}/x`, { headers: { host: 'unknown.example' } })).body.dump();
  await rawRequest(gate.port, 'GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  return gate.waitForRecords(4);
}

describe('request lines match the log-line schema', () => {
  it.each([
    ['native', NativeRequestLine],
    ['cloudflare', CloudflareRequestLine],
  ] as const)('%s profile', async (profile, schema) => {
    const lines = await linesOf(profile);
    for (const line of lines) {
      const errors = [...Value.Errors(schema, line)].map((e) => `${e.instancePath}: ${e.message}`);
      expect(errors, JSON.stringify(line)).toEqual([]);
    }
  });

  it('the schema refuses a line with a field too many or a wrong type', () => {
    const line = JSON.parse(
      requestLine({ start: '2026-11-20T10:00:00.000Z', end: '2026-11-20T10:00:00.002Z' }),
    );
    expect(Value.Check(NativeRequestLine, line)).toBe(true);
    expect(Value.Check(NativeRequestLine, { ...line, cookie: 'x' })).toBe(false);
    expect(Value.Check(NativeRequestLine, { ...line, outcome: 'fine' })).toBe(false);
    expect(Value.Check(NativeRequestLine, { ...line, seq: 0 })).toBe(false);
  });
});
