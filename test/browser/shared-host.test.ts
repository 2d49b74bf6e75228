import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSidecarConfig } from '../../contract/config/render.ts';
import { generateApplicationKeys } from '../../contract/keys.ts';
import { type DevProvider, startDevProvider } from '../../examples/demo/dev-provider.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testApplication, testPolicy } from '../helpers/fixtures.ts';
import { type InProcessSidecar, startSidecar } from '../helpers/in-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/**
 * Two applications on one host, each under its own path, as a host's router (an ingress with
 * path rules) serves them: /wiki/... to the wiki's pods, /grafana/... to Grafana's, each behind its
 * own sidecar with its own keys. A real browser signs in to both and out of one.
 */
const APPS = ['wiki', 'grafana'] as const;
type App = (typeof APPS)[number];

let provider: DevProvider;
let router: Server;
let origin = '';
let browser: Browser;
const sidecars = new Map<App, InProcessSidecar>();
const upstreams = new Map<App, TestUpstream>();
/** The Cookie header of each request the router passed on, by the application it went to. */
const cookiesSeen = new Map<App, string[]>(APPS.map((app) => [app, []]));

beforeAll(async () => {
  for (const app of APPS) {
    upstreams.set(
      app,
      await startUpstream((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ app, url: req.url, email: req.headers['x-gatehouse-email'] ?? null }));
      }),
    );
    sidecars.set(app, await startSidecar(undefined));
  }
  router = createServer((req, res) => {
    const app = APPS.find((a) => req.url === `/${a}` || req.url?.startsWith(`/${a}/`));
    if (!app) {
      res.writeHead(404).end('no route');
      return;
    }
    cookiesSeen.get(app)?.push(req.headers.cookie ?? '');
    const onward = request(
      { port: sidecars.get(app)?.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    onward.on('error', () => res.destroy());
    req.pipe(onward);
  });
  await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(router.address() as AddressInfo).port}`;
  provider = await startDevProvider({
    clients: APPS.map((app) => ({
      client_id: app,
      client_secret: `${app}-secret`,
      redirect_uris: [`${origin}/${app}/.gatehouse/callback`],
      post_logout_redirect_uris: [`${origin}/${app}/.gatehouse/signed-out`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
  });
  for (const app of APPS) {
    const rendered = renderSidecarConfig({
      application: testApplication(
        {
          upstream: { url: upstreams.get(app)?.url as string },
          policies: [{ name: 'engineers' }],
          authentication: {
            externalUrl: `${origin}/${app}`,
            identityProviders: [
              {
                name: 'dev',
                issuer: provider.issuer,
                clientId: app,
                clientSecretRef: { name: 'idp', key: 'secret' },
                scopes: ['openid', 'email', 'profile', 'groups'],
              },
            ],
          },
        },
        app,
      ),
      policies: new Map([
        [
          'engineers',
          { value: testPolicy('engineers', { decision: 'allow', include: [{ groups: ['engineering'] }] }) },
        ],
      ]),
      secrets: new Map([['idp', { secret: `${app}-secret` }]]),
      keys: generateApplicationKeys('ES256'),
    });
    if (!rendered.ok) throw new Error(JSON.stringify(rendered.errors));
    sidecars.get(app)?.sidecar.install(rendered.config);
  }
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const sidecar of sidecars.values()) await sidecar.close();
  for (const upstream of upstreams.values()) await upstream.close();
  await new Promise((resolve) => router?.close(resolve));
  await provider?.close();
});

/** Opens a page of an application and answers the provider's login form when it asks. */
async function visit(
  context: BrowserContext,
  path: string,
): Promise<{ app: string; url: string; email: string }> {
  const page = await context.newPage();
  await page.goto(`${origin}${path}`);
  if (new URL(page.url()).origin === provider.issuer && (await page.$('input[name="login"]'))) {
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any');
    await Promise.all([page.waitForURL(`${origin}${path}`), page.click('button[type="submit"]')]);
  }
  // The provider may still ask to confirm the grant for a second client.
  if (new URL(page.url()).origin === provider.issuer)
    await Promise.all([page.waitForURL(`${origin}${path}`), page.click('button[type="submit"]')]);
  const seen = JSON.parse((await page.textContent('body')) ?? '{}') as {
    app: string;
    url: string;
    email: string;
  };
  await page.close();
  return seen;
}

describe('two applications under two paths of one host, in Chromium', () => {
  it('signs in to each under its path; each session cookie goes only to its own application; signing out of one leaves the other', async () => {
    const context = await browser.newContext();
    expect(await visit(context, '/wiki/pages/home')).toEqual({
      app: 'wiki',
      url: '/wiki/pages/home',
      email: 'alice@example.com',
    });
    expect(await visit(context, '/grafana/d/overview')).toEqual({
      app: 'grafana',
      url: '/grafana/d/overview',
      email: 'alice@example.com',
    });
    const sessions = (await context.cookies()).filter((c) => c.name === '_gatehouse');
    expect(sessions.map((c) => c.path).sort()).toEqual(['/grafana', '/wiki']);
    expect(sessions.every((c) => c.httpOnly && c.sameSite === 'Lax')).toBe(true);

    // The browser sent each application one session cookie, its own (the other's Path does not match).
    for (const app of APPS) {
      const last = cookiesSeen.get(app)?.at(-1) ?? '';
      expect(last.match(/(^|; )_gatehouse=/g)?.length, app).toBe(1);
    }

    // Signing out of the wiki: its cookie goes, Grafana's session stays.
    const page = await context.newPage();
    await page.goto(`${origin}/wiki/.gatehouse/logout`);
    await Promise.all([
      page.waitForURL((url) => !url.href.startsWith(`${origin}/wiki/.gatehouse/logout`)),
      page.click('button[type="submit"]'),
    ]);
    await page.close();
    expect((await context.cookies()).filter((c) => c.name === '_gatehouse').map((c) => c.path)).toEqual([
      '/grafana',
    ]);
    expect(await visit(context, '/grafana/d/again')).toMatchObject({
      app: 'grafana',
      email: 'alice@example.com',
    });
    await context.close();
  });
});
