import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusOnNewConnection } from '../helpers/hostile.ts';
import { type OperatorCluster, startOperatorCluster } from '../helpers/operator-cluster.ts';

// A Pod's end reaches the API server's view of its Service (and the sidecars' proxies) later than
// its SIGTERM: webhook reviews and config streams still come to it for a moment. With the
// webhook's failurePolicy Fail, a review refused there is a Pod that could not be created.

let env: OperatorCluster;
beforeAll(async () => {
  env = await startOperatorCluster({ namespaces: ['quiet'] });
}, 120_000);
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new TLS connection's request to the delivery port: the status, or the connection's error code. */
const freshRequest = (port: number): Promise<number | string> =>
  statusOnNewConnection(
    () => tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }),
    'GET /v1/jwks/quiet/none HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n',
    'secureConnect',
  );

describe('the operator stopping', () => {
  it('with a delay: /readyz 503 at once, the delivery port answers new connections through the delay, then stops', async () => {
    const { deliveryPort, adminPort } = env.ports;
    expect(await freshRequest(deliveryPort)).toBe(404);
    const started = performance.now();
    const stopped = env.operator.stop(1_000, 2_000);
    await sleep(100);
    const ready = await request(`http://127.0.0.1:${adminPort}/readyz`);
    await ready.body.dump();
    expect(ready.statusCode).toBe(503);
    const during = [];
    for (const at of [300, 1_000, 1_700]) {
      await sleep(Math.max(0, at - (performance.now() - started)));
      during.push(await freshRequest(deliveryPort));
    }
    expect(during).toEqual([404, 404, 404]);
    await stopped;
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(await freshRequest(deliveryPort)).toBe('ECONNREFUSED');
  });
});
