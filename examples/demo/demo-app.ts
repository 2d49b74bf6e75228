import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { escapeHtml } from '../../sidecar/src/http/page.ts';

/**
 * The demo application: shows the identity headers Gatehouse stamped and verifies the identity
 * JWT against the sidecar's JWKS, as an app owner would.
 */
export function createDemoApp(options: { jwksUrl: string; issuer: string; audience: string }): Server {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  return createServer(async (req, res) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : '';
    };
    const assertion = header('x-gatehouse-jwt-assertion');
    let verdict: string;
    try {
      const { payload } = await jwtVerify(assertion, jwks, {
        issuer: options.issuer,
        audience: options.audience,
      });
      verdict = `valid: ${JSON.stringify(payload, null, 2)}`;
    } catch (error) {
      verdict = `NOT valid: ${(error as Error).message}`;
    }
    const rows = ['x-gatehouse-user', 'x-gatehouse-email', 'x-gatehouse-groups', 'x-request-id']
      .map((n) => `<tr><th>${n}</th><td><code>${escapeHtml(header(n))}</code></td></tr>`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><meta charset="utf-8"><title>Demo app</title><style>body{font:16px/1.5 system-ui;max-width:48rem;margin:5vh auto;padding:0 1rem}th{text-align:left;padding-right:1rem}pre{background:#f6f8fa;padding:1rem;overflow:auto}</style>` +
        `<h1>Demo app behind Gatehouse</h1><p>You asked for <code>${escapeHtml(req.url ?? '')}</code>.</p>` +
        `<h2>Identity headers received</h2><table>${rows}</table>` +
        `<h2>Identity JWT, verified against ${escapeHtml(options.jwksUrl)}</h2><pre>${escapeHtml(verdict)}</pre>` +
        `<p><a href="/admin/">/admin</a> (admins only) · <a href="/.gatehouse/">Your session</a> · <a href="/.gatehouse/userinfo">/.gatehouse/userinfo</a> (the same identity, as this page's scripts can read it) · <a href="/.gatehouse/logout">Sign out</a></p>`,
    );
  });
}
