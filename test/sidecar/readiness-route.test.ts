import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, openRaw, upgradeRequest } from '../helpers/hostile.ts';
import { rawRequest, statusOf } from '../helpers/raw-http.ts';
import {
  applicationYaml,
  policyYaml,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A load balancer that sends traffic straight to the pods (a GKE Ingress, an AWS ALB in IP mode,
// Azure Application Gateway) checks the port it sends to, with the pod's address as Host, and
// takes anything but 200 for a dead backend. The application's pages answered it with a denial
// (or a sign-in redirect), and for an unknown Host a 421: every backend unhealthy, the site down.

let upstream: TestUpstream;
let sidecar: SidecarProcess;
const reached: string[] = [];

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    reached.push(req.url ?? '');
    res.end('app page');
  });
  // Nobody anonymous gets in: every page of the application refuses a health check.
  const yaml = `${applicationYaml({
    hosts: ['wiki.example.com'],
    upstream: { url: upstream.url },
    policies: [{ name: 'staff' }],
  })}---\n${policyYaml('staff', { decision: 'allow', include: [{ emails: ['alice@example.com'] }] })}`;
  sidecar = await startSidecarProcess(writeConfigDir(yaml), [
    '--shutdown-delay',
    '3s',
    '--shutdown-grace',
    '8s',
  ]);
});
afterAll(async () => {
  await sidecar?.stop();
  await upstream?.close();
});

/** One request on a new connection, closed after its answer. */
const ask = (head: string) =>
  rawRequest(sidecar.port, `${head}${head.includes('Connection:') ? '' : '\r\nConnection: close'}\r\n\r\n`);

describe('the readiness route on the traffic port', () => {
  it('answers a health check 200 whatever its Host, while the pages stay denied; nothing reaches the application', async () => {
    const check = await ask(
      'GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.4.7.12:4180\r\nUser-Agent: GoogleHC/1.0',
    );
    expect(statusOf(check)).toBe(200);
    expect(check).toMatch(/\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
    expect(check).toMatch(/\r\ncache-control: no-store\r\n/i);
    expect(check.endsWith('\r\n\r\nok\n')).toBe(true);
    // The same with no Host at all (HTTP/1.0), a query, HEAD, and the application's own Host.
    expect(statusOf(await ask('GET /.gatehouse/ready HTTP/1.0'))).toBe(200);
    expect(statusOf(await ask('GET /.gatehouse/ready?access_token=s3cret HTTP/1.1\r\nHost: 10.4.7.12'))).toBe(
      200,
    );
    const head = await ask('HEAD /.gatehouse/ready HTTP/1.1\r\nHost: wiki.example.com\r\nConnection: close');
    expect(statusOf(head)).toBe(200);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    // HAProxy's option httpchk /.gatehouse/ready: OPTIONS, HTTP/1.0, no Host (it took 400 bad_host
    // for a dead backend).
    const options = await ask('OPTIONS /.gatehouse/ready HTTP/1.0');
    expect([statusOf(options), options.endsWith('\r\n\r\nok\n')]).toEqual([200, true]);
    // The application's pages: denied to the check, refused for a Host not its own.
    expect(statusOf(await ask('GET / HTTP/1.1\r\nHost: wiki.example.com'))).toBe(401);
    expect(statusOf(await ask('GET / HTTP/1.1\r\nHost: 10.4.7.12:4180'))).toBe(421);
    expect(reached).toEqual([]);
    const checks = () =>
      sidecar.lines.filter((l) => l.type === 'request' && String(l.uri).startsWith('/.gatehouse/ready'));
    await eventually('five request lines', () => checks().length === 5, 2_000);
    const lines = checks();
    // Its query is redacted in the line, as any other request's.
    expect(lines.map((l) => l.uri)).toContain('/.gatehouse/ready?access_token=[REDACTED]');
    expect(JSON.stringify(lines)).not.toContain('s3cret');
    expect(lines[0]).toMatchObject({
      status: 200,
      host: '10.4.7.12:4180',
      uri: '/.gatehouse/ready',
      error: null,
    });
  });

  it('is that path only, for GET, HEAD and OPTIONS only, and never a WebSocket', async () => {
    for (const [head, status] of [
      ['POST /.gatehouse/ready HTTP/1.1\r\nHost: wiki.example.com\r\nContent-Length: 0', 404],
      ['PUT /.gatehouse/ready HTTP/1.1\r\nHost: wiki.example.com\r\nContent-Length: 0', 404],
      ['OPTIONS /.gatehouse/readyz HTTP/1.0', 400],
      ['GET /.gatehouse/readyz HTTP/1.1\r\nHost: wiki.example.com', 404],
      ['GET /.gatehouse/ready/ HTTP/1.1\r\nHost: wiki.example.com', 404],
      [
        'GET /.gatehouse/ready HTTP/1.1\r\nHost: wiki.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade',
        200,
      ],
    ] as const)
      expect([head, statusOf(await ask(head))]).toEqual([head, status]);
    const socket = await rawRequest(sidecar.port, upgradeRequest('/.gatehouse/ready', 'wiki.example.com'));
    expect(statusOf(socket)).toBe(400);
    expect(reached).toEqual([]);
  });

  it('answers 503 from SIGTERM on, through the shutdown delay, while the pages are still served; checks whose bodies stay silent or trickle hold no part of the shutdown', async () => {
    // Two checks answered before the signal whose declared bodies never come whole.
    const [silent, trickling] = await Promise.all(
      ['127.8.5.1', '127.8.5.2'].map(async (from) => {
        const c = await openRaw(sidecar.port, from, true);
        c.socket.write('GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.4.7.12\r\nContent-Length: 100000\r\n\r\n');
        await c.waitFor(/^HTTP\/1\.1 200 /);
        return c;
      }),
    );
    const drip = setInterval(() => trickling?.socket.writable && trickling.socket.write('x'), 100);
    const signalled = performance.now();
    const exited = sidecar.stop();
    let status = 0;
    for (let i = 0; i < 40 && status !== 503; i++) {
      await new Promise((r) => setTimeout(r, 25));
      status = statusOf(await ask('GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.4.7.12'));
    }
    expect(status).toBe(503);
    const check = await ask('GET /.gatehouse/ready HTTP/1.1\r\nHost: 10.4.7.12\r\nConnection: close');
    expect(check.endsWith('\r\n\r\nnot ready\n')).toBe(true);
    expect(statusOf(await ask('GET / HTTP/1.1\r\nHost: wiki.example.com'))).toBe(401);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearInterval(drip);
    }
    // Out once the delay (3 s) is over: the drain does not wait for their bodies (the grace is 8 s).
    expect(performance.now() - signalled).toBeLessThan(3_000 + 2_000);
    await Promise.all([silent?.closed, trickling?.closed]);
    expect(
      sidecar.lines.find((l) => l.type === 'request' && l.status === 503 && l.uri === '/.gatehouse/ready'),
    ).toMatchObject({ error: 'not_ready' });
  });
});
