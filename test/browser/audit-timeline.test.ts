import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../helpers/chromium.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { runGatehouse } from '../helpers/sidecar-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-html-'));
const HOSTILE_URI = '/search?q=<img src=x onerror=alert(1)><script>alert(2)</script>';
const LAPTOP =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15';
const THIEF = 'curl/8.11.1';

/** Log lines of an incident: Alice's laptop is used from elsewhere, then her sessions are revoked. */
function incident(): string[] {
  const lines: string[] = [];
  let n = 0;
  const t0 = Date.parse('2026-11-20T08:00:00Z');
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const identity = (idp: string) => ({ kind: 'user', sub: 'alice-sub', email: 'alice@example.com', idp });
  const request = (app: string, sid: string, s: number, uri: string, ip: string, ua: string, deny = false) =>
    lines.push(
      requestLine({
        requestId: `req-${String(n++).padStart(4, '0')}`,
        app,
        host: `${app.split('/')[1]}.example.com`,
        uri,
        status: deny ? 403 : 200,
        outcome: deny ? 'denied' : 'served',
        start: at(s),
        end: at(s + 0.05),
        upstreamMs: 40,
        clientIp: ip,
        userAgent: ua,
        identity: identity(app === 'corp/wiki' ? 'corp' : 'google'),
        sessionId: sid,
        authMethod: 'oidc',
        ...(deny
          ? {
              decision: {
                action: 'deny',
                policy: 'corp/admins-only',
                rule: 'require',
                reason: 'group_mismatch',
              },
            }
          : {}),
      }),
    );
  const event = (type: string, app: string, s: number, fields: object) =>
    lines.push(JSON.stringify({ type, time: at(s), app, requestId: `evt-${n++}`, ...fields }));

  event('login_succeeded', 'corp/wiki', 0, {
    clientIp: '192.0.2.10',
    userAgent: LAPTOP,
    provider: 'corp',
    sub: 'alice-sub',
    email: 'alice@example.com',
    sessionId: 'wiki-session-1',
    groups: 4,
  });
  for (let i = 0; i < 40; i++)
    request('corp/wiki', 'wiki-session-1', 5 + i * 45, `/pages/${100 + i}`, '192.0.2.10', LAPTOP);
  request('corp/wiki', 'wiki-session-1', 1900, HOSTILE_URI, '203.0.113.66', LAPTOP);
  for (let i = 0; i < 7; i++)
    request(
      'corp/wiki',
      'wiki-session-1',
      1910 + i * 3,
      `/admin/users?page=${i}`,
      '203.0.113.66',
      THIEF,
      true,
    );
  event('revocation_applied', 'corp/wiki', 1960, {
    revocation: 'alice-example-com-7qz4k',
    user: 'alice@example.com',
    revokedBefore: at(1959),
    reason: 'INC-1042 stolen laptop',
    websocketsClosed: 1,
  });
  event('session_revoked', 'corp/wiki', 1975, {
    clientIp: '203.0.113.66',
    userAgent: THIEF,
    provider: 'corp',
    sub: 'alice-sub',
    email: 'alice@example.com',
    sessionId: 'wiki-session-1',
    revocation: 'alice-example-com-7qz4k',
    reason: 'INC-1042 stolen laptop',
  });
  event('login_succeeded', 'ops/grafana', 300, {
    clientIp: '192.0.2.10',
    userAgent: LAPTOP,
    provider: 'google',
    sub: 'alice-sub',
    email: 'alice@example.com',
    sessionId: 'grafana-session-9',
    groups: 4,
  });
  for (let i = 0; i < 15; i++)
    request(
      'ops/grafana',
      'grafana-session-9',
      310 + i * 60,
      `/d/latency?from=now-${i + 1}h`,
      '192.0.2.10',
      LAPTOP,
    );
  event('logout', 'ops/grafana', 1300, {
    clientIp: '192.0.2.10',
    userAgent: LAPTOP,
    provider: 'google',
    sub: 'alice-sub',
    email: 'alice@example.com',
    sessionId: 'grafana-session-9',
  });
  return lines;
}

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('gatehouse audit --format html', () => {
  it('renders a self-contained timeline in Chromium: sessions, anomalies, revocation, hostile URIs shown as text', async () => {
    const lines = incident();
    // Two sidecars' files, each in its own write order.
    writeFileSync(join(dir, 'wiki.log'), `${lines.filter((l) => l.includes('corp/wiki')).join('\n')}\n`);
    writeFileSync(join(dir, 'grafana.log'), `${lines.filter((l) => l.includes('ops/grafana')).join('\n')}\n`);
    const report = join(dir, 'alice.html');
    const result = await runGatehouse([
      'audit',
      'sessions',
      '--user',
      'alice@example.com',
      '--format',
      'html',
      '-o',
      report,
      join(dir, 'wiki.log'),
      join(dir, 'grafana.log'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|<img|src="http|href="http/i);
    expect(html).toContain("default-src 'none'");

    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const dialogs: string[] = [];
    const requests: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(report).href);
    await page.screenshot({ path: resolve(ARTIFACTS, 'audit-timeline.png'), fullPage: true });
    await page.screenshot({ path: resolve(ARTIFACTS, 'audit-timeline-top.png') });

    expect(await page.title()).toBe('Sessions of alice@example.com');
    expect(await page.locator('section.card').count()).toBe(3); // overview + two sessions
    const text = (await page.textContent('body')) ?? '';
    expect(text).toContain('corp/wiki · session wiki-session-1');
    expect(text).toContain('ops/grafana · session grafana-session-9');
    expect(text).toContain('ip change');
    expect(text).toContain('moved to 203.0.113.66 (from 192.0.2.10)');
    expect(text).toContain('user agent change');
    expect(text).toContain('denial burst');
    expect(text).toMatch(
      /revoked at 2026-11-20T08:32:40\.000Z \(alice-example-com-7qz4k: INC-1042 stolen laptop\)/,
    );
    expect(text).toContain('logout');
    expect(text).toContain(HOSTILE_URI);
    expect(await page.locator('svg rect.deny').count()).toBe(7 * 2); // overview and session timelines
    const fill = (selector: string): Promise<string> =>
      page
        .locator(selector)
        .first()
        .evaluate(
          (el: unknown) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(el)
              .fill,
        );
    expect(await fill('svg rect.deny')).toBe('rgb(240, 68, 56)');
    expect(await fill('svg rect.allow')).toBe('rgb(18, 183, 106)');
    expect(dialogs).toEqual([]);
    expect(requests).toEqual([pathToFileURL(report).href]);
    await page.close();
  });
});
