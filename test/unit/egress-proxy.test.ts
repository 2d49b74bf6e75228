import { execFile } from 'node:child_process';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { egressProxyOf } from '../../sidecar/src/auth/egress-proxy.ts';
import { startForwardProxy } from '../helpers/forward-proxy.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

describe('the egress proxy of the environment', () => {
  it.each([
    ['none', {}, null],
    ['empty values', { HTTPS_PROXY: '', HTTP_PROXY: '' }, null],
    [
      'HTTPS_PROXY',
      { HTTPS_PROXY: 'http://proxy.corp:3128' },
      { proxies: ['http://proxy.corp:3128'], noProxy: null },
    ],
    [
      'lower case, with NO_PROXY',
      { https_proxy: 'http://p:1', no_proxy: '.svc,10.0.0.0/8' },
      { proxies: ['http://p:1'], noProxy: '.svc,10.0.0.0/8' },
    ],
    [
      'both, the same',
      { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1' },
      { proxies: ['http://p:1'], noProxy: null },
    ],
    [
      'credentials are not kept for the log',
      { HTTP_PROXY: 'http://ops:s3cret@p:1' },
      { proxies: ['http://p:1'], noProxy: null },
    ],
  ] as const)('%s', (_what, env, expected) => {
    const proxy = egressProxyOf(env as NodeJS.ProcessEnv);
    expect(proxy === null ? null : { proxies: proxy.proxies, noProxy: proxy.noProxy }).toEqual(expected);
  });

  it('reaches an https provider through a CONNECT tunnel, its certificate checked as without a proxy', async () => {
    const { cert, key, certFile } = selfSignedCertificate();
    const provider = createServer({ cert, key }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((done) => provider.listen(0, '127.0.0.1', done));
    const proxy = await startForwardProxy();
    const target = `https://127.0.0.1:${(provider.address() as AddressInfo).port}/.well-known/openid-configuration`;
    // A process of its own: the CA is added at start (NODE_EXTRA_CA_CERTS), as an operator does.
    const script = `const { egressProxyOf } = await import(${JSON.stringify(resolve(import.meta.dirname, '../../sidecar/src/auth/egress-proxy.ts'))});
      const answer = await egressProxyOf().fetch(${JSON.stringify(target)}, {});
      console.log(JSON.stringify({ status: answer.status, body: await answer.json(), isResponse: answer instanceof Response }));`;
    try {
      const run = (ca: Record<string, string>) =>
        promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, HTTPS_PROXY: proxy.url, NO_PROXY: '', ...ca },
        });
      const { stdout } = await run({ NODE_EXTRA_CA_CERTS: certFile });
      expect(JSON.parse(stdout)).toEqual({
        status: 200,
        body: { path: '/.well-known/openid-configuration' },
        isResponse: true,
      });
      expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${(provider.address() as AddressInfo).port}`]);
      // Without the CA the tunnel does not make the provider trusted.
      await expect(run({})).rejects.toThrow(/certificate|fetch failed/);
    } finally {
      await proxy.close();
      await new Promise((done) => provider.close(done));
    }
  });
});
