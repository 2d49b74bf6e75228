// `npm run demo`: a development OpenID Provider, a demo app, and the Gatehouse sidecar in front of
// it (standalone mode, examples/demo/app.yaml). Logs stream to stdout; Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { SIDECAR_NODE_ENV } from '../../contract/sidecar-node-options.ts';
import { createDemoApp } from './demo-app.ts';
import { startDevProvider } from './dev-provider.ts';

const root = resolve(import.meta.dirname, '../..');
const GATEHOUSE = 'http://127.0.0.1:4180';

const provider = await startDevProvider({
  port: 9400,
  clients: [
    {
      client_id: 'gatehouse-demo',
      client_secret: 'demo-client-secret-not-for-production',
      redirect_uris: [`${GATEHOUSE}/.gatehouse/callback`],
      post_logout_redirect_uris: [`${GATEHOUSE}/.gatehouse/signed-out`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
});
const app = createDemoApp({
  jwksUrl: `${GATEHOUSE}/.gatehouse/jwks.json`,
  issuer: GATEHOUSE,
  audience: 'gatehouse:demo',
});
await new Promise<void>((r) => app.listen(8080, '127.0.0.1', r));

const sidecar = spawn(
  process.execPath,
  [
    resolve(root, 'bin/gatehouse.ts'),
    'sidecar',
    '--config',
    resolve(root, 'examples/demo/app.yaml'),
    '--listen',
    '127.0.0.1:4180',
    '--admin-listen',
    '127.0.0.1:9180',
    // No proxy routes to the demo that could learn late of its end: it stops at once.
    '--shutdown-delay',
    '0s',
  ],
  { stdio: 'inherit', env: { ...process.env, ...SIDECAR_NODE_ENV } },
);

console.error(`
  Gatehouse demo
    open           ${GATEHOUSE}/
    sign in as     alice (engineering, admins) or bob (sales), any password
    provider       ${provider.issuer}   app 127.0.0.1:8080   metrics 127.0.0.1:9180/metrics
  One JSON line per request and auth events follow on stdout. Ctrl-C stops.
`);

const stop = () => {
  sidecar.kill('SIGTERM');
  app.close();
  void provider.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
sidecar.on('exit', (code) => {
  app.close();
  void provider.close().then(() => process.exit(code ?? 0));
});
