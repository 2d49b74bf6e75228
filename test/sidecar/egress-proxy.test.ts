import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevProvider, startDevProvider } from '../../examples/demo/dev-provider.ts';
import { freePort } from '../helpers/control-plane.ts';
import { type ForwardProxy, startForwardProxy } from '../helpers/forward-proxy.ts';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.ts';
import type { TestUpstream } from '../helpers/upstream.ts';
import { startEchoUpstream, writeStandaloneWiki } from '../helpers/wiki-app.ts';

// Clusters whose only way out is a corporate egress proxy: the shipped sidecar reaches the
// identity provider through HTTP_PROXY / HTTPS_PROXY (NO_PROXY excepted), and the application
// never through it.
let proxy: ForwardProxy;
let idp: DevProvider;
let upstream: TestUpstream;
const upstreamPaths: string[] = [];
const sidecars: SidecarProcess[] = [];
const ports: Record<'proxied' | 'excepted' | 'proxyDown', number> = { proxied: 0, excepted: 0, proxyDown: 0 };
const origin = (which: keyof typeof ports) => `http://127.0.0.1:${ports[which]}`;

beforeAll(async () => {
  proxy = await startForwardProxy();
  upstream = await startEchoUpstream(upstreamPaths);
  for (const which of Object.keys(ports) as (keyof typeof ports)[]) ports[which] = await freePort();
  idp = await startDevProvider({
    clients: [
      {
        client_id: 'wiki',
        client_secret: 'wiki-secret',
        redirect_uris: Object.keys(ports).map(
          (w) => `${origin(w as keyof typeof ports)}/.gatehouse/callback`,
        ),
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
  });
  const closedPort = await freePort();
  const env: Record<keyof typeof ports, Record<string, string>> = {
    proxied: { HTTP_PROXY: proxy.url },
    excepted: { http_proxy: proxy.url, no_proxy: '127.0.0.1' },
    proxyDown: { HTTP_PROXY: `http://user:secret@127.0.0.1:${closedPort}` },
  };
  for (const which of Object.keys(ports) as (keyof typeof ports)[]) {
    const configDir = writeStandaloneWiki({
      hosts: [`127.0.0.1:${ports[which]}`],
      upstreamUrl: upstream.url,
      externalUrl: origin(which),
      issuer: idp.issuer,
    });
    sidecars.push(
      await startSidecarProcess(configDir, ['--listen', `127.0.0.1:${ports[which]}`], env[which]),
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await idp?.close();
  await upstream?.close();
  await proxy?.close();
});

const idpHost = () => new URL(idp.issuer).host;
const upstreamHost = () => new URL(upstream.url).host;

describe('an egress proxy for the calls to identity providers', () => {
  it('signs in through the proxy; the application is reached directly; the start line names the proxy', async () => {
    const [proxied] = sidecars;
    expect(proxied?.lines.find((l) => l.type === 'egress_proxy')).toMatchObject({
      proxies: [proxy.url],
      noProxy: null,
    });
    const before = proxy.seen.length;
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${origin('proxied')}/home`, 'alice');
    expect(pages.at(-1)?.status).toBe(200);
    expect(upstreamPaths).toContain('/home');
    const asked = proxy.seen.slice(before);
    // Discovery, keys and the code exchange went through it; nothing for the application did.
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((target) => target.endsWith(idpHost()))).toBe(true);
    expect(proxy.seen.some((target) => target.endsWith(upstreamHost()))).toBe(false);
  });

  it('NO_PROXY (in lower case too) names the hosts reached directly', async () => {
    const excepted = sidecars[1];
    expect(excepted?.lines.find((l) => l.type === 'egress_proxy')).toMatchObject({ noProxy: '127.0.0.1' });
    const before = proxy.seen.length;
    const pages = await signInWithDevProvider(new HttpBrowser(), `${origin('excepted')}/home`, 'alice');
    expect(pages.at(-1)?.status).toBe(200);
    expect(proxy.seen.slice(before)).toEqual([]);
  });

  it('a proxy that cannot be reached fails the sign-in as the provider unreachable, and its password is never logged', async () => {
    const down = sidecars[2];
    const page = (await new HttpBrowser().follow(`${origin('proxyDown')}/home`)).at(-1);
    expect(page?.status).toBe(502);
    const failed = await down?.waitForLine((l) => l.type === 'login_failed');
    expect(failed).toMatchObject({ reason: 'provider_unavailable' });
    expect(down?.lines.find((l) => l.type === 'egress_proxy')?.proxies).toEqual([
      expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    ]);
    expect(JSON.stringify(down?.lines)).not.toContain('secret');
  });
});
