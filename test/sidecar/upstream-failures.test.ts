import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokenUpstream, startBrokenUpstream } from '../helpers/broken-upstream.ts';
import { eventually, openRaw, upgradeRequest } from '../helpers/hostile.ts';
import type { JsonLine } from '../helpers/json-lines.ts';
import {
  applicationYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';

// A broken application answered 502 "not reachable" whatever it did, and the line said
// `upstream_unavailable` or `upstream_error` and nothing more: a port nobody listens on, a
// keep-alive connection the application closed as the request went out, a response cut by a
// crash and a `100 Continue` nobody asked for all read the same (the last one as "not
// reachable"), so the platform team could not tell what to fix. The shipped sidecar in front of
// an application that fails in each of these ways at the socket: each line says why
// (`errorCause`), the metric counts it, the client gets the right answer, and the next
// request is served.

let upstream: BrokenUpstream;
let configDir: string;
let sidecar: SidecarProcess;

const spec = (logging: Record<string, unknown> = {}) => ({
  hosts: ['127.0.0.1'],
  upstream: { url: upstream.url, timeouts: { connect: '2s', responseHeaders: '1s', idle: '1s' } },
  logging,
});

beforeAll(async () => {
  upstream = await startBrokenUpstream();
  configDir = writeConfigDir(applicationYaml(spec()));
  sidecar = await startSidecarProcess(configDir);
});
afterAll(async () => {
  await sidecar.stop();
  await upstream.close();
});

/** A GET through the sidecar: status, the JSON error code (if any), and whether the body came whole. */
async function get(path: string) {
  const res = await request(`http://127.0.0.1:${sidecar.port}${path}`, { reset: false });
  const body = await res.body.text().catch(() => null);
  const code = body?.startsWith('{') ? (JSON.parse(body) as { error: string }).error : null;
  return { status: res.statusCode, code, body };
}

const lineOf = (uri: string, type = 'request'): Promise<JsonLine> =>
  sidecar.waitForLine((l) => l.type === type && l.uri === uri);

describe('an application that fails at the socket', () => {
  it.each([
    ['/reset', 502, 'upstream_unavailable', 'reset'],
    ['/closed', 502, 'upstream_unavailable', 'closed_before_response'],
    ['/silent', 504, 'upstream_timeout', 'headers_timeout'],
    ['/huge-head', 502, 'upstream_headers_too_large', 'headers_too_large'],
    ['/two-lengths', 502, 'upstream_error', 'length_mismatch'],
    ['/continue', 502, 'upstream_error', 'unexpected_continue'],
    ['/upgrade', 502, 'upstream_error', 'unexpected_upgrade'],
    ['/bad-status', 502, 'upstream_error', 'invalid_response'],
    ['/bad-header', 502, 'upstream_error', 'invalid_response'],
    ['/gzip-coded', 502, 'upstream_error', 'unsupported_transfer_coding'],
  ])('%s: %i %s, the line says %s, and the next request is served', async (path, status, code, failure) => {
    expect(await get(path)).toMatchObject({ status, code });
    expect(await lineOf(path)).toMatchObject({
      status,
      error: code,
      errorCause: failure,
      outcome: status === 504 ? 'upstream_timeout' : 'upstream_error',
    });
    expect(await get('/ok')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('a response cut after its head: the client connection is cut, the line says closed_mid_response or body_timeout', async () => {
    for (const [path, failure] of [
      ['/cut', 'closed_mid_response'],
      ['/cut-reset', 'reset'],
      ['/stall', 'body_timeout'],
    ] as const) {
      expect(await get(path)).toMatchObject({ status: 200, body: null });
      expect(await lineOf(path)).toMatchObject({ status: 200, errorCause: failure });
    }
    expect(await get('/ok')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('a WebSocket upgrade the application closes: its line says closed_before_response', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.write(upgradeRequest('/closed'));
    await client.waitFor(/^HTTP\/1\.1 502 /);
    client.socket.destroy();
    expect(await sidecar.waitForLine((l) => l.uri === '/closed' && l.upgrade === true)).toMatchObject({
      error: 'upstream_unavailable',
      errorCause: 'closed_before_response',
    });
  });

  it('served requests and refusals by the gateway itself have no errorCause', async () => {
    const served = sidecar.lines.filter((l) => l.type === 'request' && l.uri === '/ok');
    expect(served.length).toBeGreaterThan(0);
    for (const line of served) expect(line.errorCause).toBeNull();
  });

  it('gatehouse_upstream_failures_total counts each failure by its reason', async () => {
    const text = await (await request(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).body.text();
    const count = (failure: string) =>
      Number(
        text.match(
          new RegExp(
            `^gatehouse_upstream_failures_total\\{app="proc-app",failure="${failure}"\\} (\\d+)$`,
            'm',
          ),
        )?.[1] ?? 0,
      );
    expect(count('invalid_response')).toBe(2);
    expect(count('closed_before_response')).toBe(2); // the request and the upgrade
    expect(count('reset')).toBe(2);
    expect(count('headers_timeout')).toBe(1);
    expect(count('unexpected_continue')).toBe(1);
  });

  it('informational responses (103) without end: 504 headers_timeout once timeouts.responseHeaders has passed, the hints relayed meanwhile (at most 4)', async () => {
    // undici waits for a head afresh after each 1xx: the request and its pool slot were held for ever.
    const client = await openRaw(sidecar.port);
    const started = performance.now();
    client.socket.write('GET /hints-forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/HTTP\/1\.1 504 /, 5_000);
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(2_500);
    expect(client.received().match(/HTTP\/1\.1 103 /g)?.length).toBe(4);
    client.socket.destroy();
    expect(await lineOf('/hints-forever')).toMatchObject({
      status: 504,
      error: 'upstream_timeout',
      errorCause: 'headers_timeout',
    });
    expect(await get('/ok')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('informational responses without end and a client that resets meanwhile: one client_abort line, nothing when the deadline would have come', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.write('GET /hints-forever?reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/HTTP\/1\.1 103 /, 5_000);
    client.socket.resetAndDestroy();
    expect(await lineOf('/hints-forever?reset')).toMatchObject({ outcome: 'client_abort' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sidecar.lines.filter((l) => l.uri === '/hints-forever?reset')).toHaveLength(1);
    expect(await get('/ok')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('informational responses without end and a client that half-closes (FIN) after its request: its 504 still comes', async () => {
    const client = await openRaw(sidecar.port);
    client.socket.end('GET /hints-forever?fin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/HTTP\/1\.1 504 /, 5_000);
    expect(await lineOf('/hints-forever?fin')).toMatchObject({ status: 504, errorCause: 'headers_timeout' });
  });

  it('informational responses without end at a shutdown: the sidecar exits within its grace, one line', async () => {
    const stopping = await startSidecarProcess(
      writeConfigDir(
        applicationYaml({
          hosts: ['127.0.0.1'],
          upstream: { url: upstream.url, timeouts: { responseHeaders: '30s' } },
        }),
      ),
      ['--shutdown-grace', '1s'],
    );
    const client = await openRaw(stopping.port);
    client.socket.write('GET /hints-forever?stop HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(/HTTP\/1\.1 103 /, 5_000);
    const started = performance.now();
    expect(await stopping.stop()).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(
      stopping.lines.filter((l) => l.type === 'request' && l.uri === '/hints-forever?stop'),
    ).toHaveLength(1);
    client.socket.destroy();
  });

  it('in the Cloudflare profile, and for a port nobody listens on: connect_refused', async () => {
    const loaded = () => sidecar.lines.filter((l) => l.type === 'config_loaded').length;
    const before = loaded();
    writeFileSync(join(configDir, 'app.yaml'), applicationYaml(spec({ profile: 'cloudflare' })));
    await eventually('the Cloudflare profile loaded', () => loaded() > before);
    await upstream.close();
    expect(await get('/after-close')).toMatchObject({ status: 502, code: 'upstream_unavailable' });
    expect(await sidecar.waitForLine((l) => l.ClientRequestURI === '/after-close')).toMatchObject({
      GatehouseError: 'upstream_unavailable',
      GatehouseErrorCause: 'connect_refused',
    });
  });
});
