import { once } from 'node:events';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { AccessPolicySpec } from '../../contract/api/access-policy.ts';
import { testConfig } from '../helpers/fixtures.ts';
import { startSidecar } from '../helpers/in-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const loopbackOnly = (exclude: AccessPolicySpec['exclude'] = []): AccessPolicySpec => ({
  decision: 'bypass',
  include: [{ ipRanges: ['127.0.0.0/8'] }],
  exclude,
});

async function setup() {
  const upstream = await startUpstream();
  const wss = new WebSocketServer({ server: upstream.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  const config = (policy: AccessPolicySpec) =>
    testConfig({ upstream: { url: upstream.url }, policies: [{ name: 'loopback' }] }, { loopback: policy });
  const gate = await startSidecar(config(loopbackOnly()));
  cleanups.push(
    () => upstream.close(),
    () => gate.close(),
    async () => wss.close(),
  );
  return { gate, config };
}

describe('policy changes take effect on live traffic', () => {
  it('applies to the next request on an existing keep-alive connection', async () => {
    const { gate, config } = await setup();
    const agent = new Agent({ connections: 1 });
    cleanups.push(() => agent.close());
    const first = await request(`${gate.url}/reports/1`, { dispatcher: agent });
    await first.body.text();
    expect(first.statusCode).toBe(200);
    gate.sidecar.install(config(loopbackOnly([{ paths: ['/reports/**'] }])));
    const second = await request(`${gate.url}/reports/1`, { dispatcher: agent });
    await second.body.text();
    expect(second.statusCode).toBe(403);
    const [a, b] = await gate.waitForRecords(2);
    // Both went over one client connection, yet the second was judged by the new policy.
    expect(a).toMatchObject({ decision: { action: 'bypass' } });
    expect(b).toMatchObject({ decision: { action: 'deny' } });
    expect(a?.configGeneration).not.toBe(b?.configGeneration);
  });

  it('closes open WebSockets whose owner is no longer allowed, with a log line; others stay open', async () => {
    const { gate, config } = await setup();
    const chat = new WebSocket(`ws://127.0.0.1:${gate.port}/chat`);
    const feed = new WebSocket(`ws://127.0.0.1:${gate.port}/feed`);
    await Promise.all([once(chat, 'open'), once(feed, 'open')]);
    const chatClosed = once(chat, 'close');

    gate.sidecar.install(config(loopbackOnly([{ paths: ['/chat'] }])));
    const started = Date.now();
    await chatClosed;
    expect(Date.now() - started).toBeLessThan(1000);

    // The other tunnel still works.
    const reply = once(feed, 'message');
    feed.send('still here');
    expect(String((await reply)[0])).toBe('echo:still here');

    const event = gate.lines.map((l) => JSON.parse(l)).find((r) => r.type === 'websocket_closed');
    expect(event).toMatchObject({
      reason: 'policy_changed',
      decision: { action: 'deny', reason: 'no_policy_matched' },
    });
    const [line] = await gate.waitForRecords(1);
    expect(line).toMatchObject({
      uri: '/chat',
      outcome: 'upgraded',
      error: 'policy_changed',
      requestId: event.requestId,
    });
    feed.close();
  });
});
