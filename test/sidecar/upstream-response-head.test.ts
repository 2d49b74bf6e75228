import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameUpstreamSettings } from '../../sidecar/src/upstream/upstream.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// An application that sets many or large cookies can send a response head over the 16 KiB the
// sidecar reads. It got 502 `upstream_error`, the line saying nothing more, while the application
// answered fine without the gateway. Now the code says what happened, and the limit is the
// application's to raise.

let upstream: TestUpstream;
let gate: InProcessSidecar;

beforeAll(async () => {
  // `/<n>`: n cookies of about 1 KB each.
  upstream = await startUpstream((req, res) => {
    const n = Number(req.url?.slice(1));
    res.setHeader(
      'set-cookie',
      Array.from({ length: n }, (_, i) => `c${i}=${'x'.repeat(1000)}`),
    );
    res.end('ok');
  });
  gate = await startSidecar(testConfig({ upstream: { url: upstream.url } }));
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
  await browserLike.close();
});

/** A client that reads response heads of up to 1 MiB, as browsers do (Chromium: 256 KiB). */
const browserLike = new Agent({ maxHeaderSize: 1024 * 1024 });

async function get(path: string) {
  const res = await request(`${gate.url}${path}`, { dispatcher: browserLike });
  return {
    status: res.statusCode,
    cookies: [res.headers['set-cookie'] ?? []].flat().length,
    body: await res.body.text(),
  };
}

describe('an application response head over what the sidecar reads', () => {
  it('is 502 upstream_headers_too_large, with its line; one under 16 KiB goes through', async () => {
    expect(await get('/15')).toMatchObject({ status: 200, cookies: 15 });
    const over = await get('/17');
    expect(over.status).toBe(502);
    expect(JSON.parse(over.body)).toMatchObject({ error: 'upstream_headers_too_large' });
    const line = gate.records().find((l) => l.uri === '/17');
    expect(line).toMatchObject({
      status: 502,
      outcome: 'upstream_error',
      error: 'upstream_headers_too_large',
    });
  });

  it('goes through whole once spec.upstream.maxResponseHeaderBytes allows it', async () => {
    gate.sidecar.install(testConfig({ upstream: { url: upstream.url, maxResponseHeaderBytes: 64 * 1024 } }));
    expect(await get('/40')).toMatchObject({ status: 200, cookies: 40, body: 'ok' });
    expect(await get('/70')).toMatchObject({ status: 502 });
  });

  it('a change of the limit builds a new upstream pool; the same limit keeps it', () => {
    const base = testConfig({ upstream: { url: upstream.url } }).upstream;
    expect(sameUpstreamSettings(base, { ...base })).toBe(true);
    expect(sameUpstreamSettings(base, { ...base, maxResponseHeaderBytes: 65_536 })).toBe(false);
  });
});
