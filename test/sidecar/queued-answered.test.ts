import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { eventually } from '../helpers/hostile.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A request waiting for an upstream connection is among the requests in progress: a policy change
// that no longer admits its caller answers it at once (403), while it still waits. The slot it
// waited for comes free right after (the request ahead of it, its answer begun, is cut by the
// same change), and it must then not be sent on: its answer is out already. (Its wait is
// cancelled once its answer is written, before the cut one lets its connection go; proxy.ts's
// dispatch also refuses a request already answered, should the order ever change.)

let upstream: TestUpstream;
let gate: InProcessSidecar;
/** Held requests of the application, answered at the end. */
const held: (() => void)[] = [];

/** One upstream connection; the loopback clients let through, or denied. */
const config = (decision: 'bypass' | 'deny'): SidecarConfig =>
  testConfig(
    { upstream: { url: upstream.url, maxConnections: 1 }, policies: [{ name: 'loopback' }] },
    { loopback: { decision, include: [{ ipRanges: ['127.0.0.0/8'] }] } },
  );

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    // The one ahead: its answer begun (head and a first chunk), the rest held.
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      held.push(() => res.end('last\n'));
    } else res.end('ok');
  });
  gate = await startSidecar(config('bypass'));
});
afterAll(async () => {
  for (const answer of held) answer();
  await gate?.close();
  await upstream?.close();
});

describe('a request answered while it waits for an upstream connection', () => {
  it('is answered 403 at once and never sent to the application when the connection comes free', async () => {
    const get = (path: string) =>
      request(`${gate.url}${path}`, { headers: { accept: 'application/json' } }).then(async (res) => {
        await res.body.text();
        return res.statusCode;
      });
    const ahead = request(`${gate.url}/stream`).then(
      (res) =>
        res.body.text().then(
          () => 'whole',
          () => 'cut',
        ),
      () => 'cut',
    );
    await eventually('the one ahead holds the only connection', () => held.length === 1, 2_000);
    const queued = get('/queued');
    await eventually(
      'the second waits for it',
      async () => /^gatehouse_upstream_queue_length 1$/m.test(await gate.metrics.registry.metrics()),
      2_000,
    );
    gate.sidecar.install(config('deny'));
    expect(await queued).toBe(403);
    expect(await ahead).toBe('cut'); // its answer had begun: its connection is reset
    await new Promise((r) => setTimeout(r, 200));
    expect(upstream.seen.map((s) => s.url)).toEqual(['/stream']);
    const lines = gate.records().filter((r) => r.uri === '/queued');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 403, error: 'policy_changed', upstreamMs: null });
  });
});
