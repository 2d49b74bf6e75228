import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, type DevUser } from '../../examples/demo/dev-provider.ts';
import { openRaw, sleep } from '../helpers/hostile.ts';
import { HttpBrowser, signInWithDevProvider, submitForm } from '../helpers/http-browser.ts';
import { eventually } from '../helpers/operator-cluster.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';
import { type StandInGraph, startStandInGraph } from '../helpers/stand-in-graph.ts';

// Entra's groups overage, end to end: oidc-provider leaves the groups out of the ID token and
// names them as a distributed claim; the sidecar lists them from a stand-in Microsoft Graph with
// the sign-in's access token, which the stand-in looks up in the provider.
const MANY = Array.from({ length: 450 }, (_, i) => `0b7c${String(i).padStart(4, '0')}-group`);
const ENGINEERING = '6f1e2d3c-engineering';
const users: Record<string, DevUser> = {
  ...DEMO_USERS,
  carol: { email: 'carol@example.com', name: 'Carol', groups: [], groupsOverage: true },
  dan: { email: 'dan@example.com', name: 'Dan', groups: [], groupsOverage: true },
};
let stack: SignInStack;
let graph: StandInGraph;
let elsewhere: StandInGraph;

beforeAll(async () => {
  graph = await startStandInGraph(100);
  elsewhere = await startStandInGraph(100);
  graph.memberships.set('carol', [...MANY.slice(0, 200), ENGINEERING, ...MANY.slice(200)]);
  graph.memberships.set('dan', MANY);
  stack = await startSignInStack({
    users,
    accessTokenTtl: 2,
    groupsOverage: { graphUrl: graph.origin },
    policies: { engineers: { decision: 'allow', include: [{ groups: [ENGINEERING] }] } },
  });
  const provider = stack.providers[0]?.provider;
  if (provider === undefined) throw new Error('no provider');
  graph.trust(provider);
  elsewhere.trust(provider);
});
afterAll(async () => {
  await stack?.close();
  await graph?.close();
  await elsewhere?.close();
});

const lastSignIn = (sub: string) =>
  stack.sidecar
    .events('login_succeeded')
    .filter((l) => l.sub === sub)
    .at(-1);

describe('groups left out of the ID token, listed from Microsoft Graph (groupsOverage)', () => {
  it('lists every page with the access token and keeps the groups the policies name', async () => {
    graph.behaviour = { kind: 'answer' };
    const before = graph.requests.length;
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'carol');
    expect(pages.at(-1)?.status).toBe(200);
    const seen = stack.upstream.seen.filter((r) => r.url === '/reports').at(-1);
    expect(seen?.headers['x-gatehouse-groups']).toBe(ENGINEERING);
    expect(lastSignIn('carol')).toMatchObject({ groups: 1, groupsListed: 451 });
    expect(lastSignIn('carol')).not.toHaveProperty('groupsLeftOut');
    // 452 memberships (a directory role among them), 100 a page: five pages, each with carol's token.
    const asked = graph.requests.slice(before);
    expect(asked).toHaveLength(5);
    expect(asked.every((r) => r.account === 'carol')).toBe(true);
    expect(asked[0]?.url).toContain('/v1.0/me/transitiveMemberOf?$select=id&$top=999');
  });

  it('a member of none of the named groups is refused; the groups were listed, not left out', async () => {
    const browser = new HttpBrowser();
    const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'dan');
    expect(pages.at(-1)?.status).toBe(403);
    expect(pages.at(-1)?.body).not.toContain('left your groups out');
    expect(lastSignIn('dan')).toMatchObject({ groups: 0, groupsListed: 450 });
  });

  it.each([
    [
      'Graph down (503)',
      { kind: 'status', status: 503, code: 'ServiceUnavailable' },
      'graph_error',
      'Microsoft Graph answered 503 ServiceUnavailable',
    ],
    [
      'a token Graph refuses (403)',
      { kind: 'status', status: 403, code: 'Authorization_RequestDenied' },
      'graph_refused',
      'lacks User.Read',
    ],
    ['a next page on another origin', 'elsewhere', 'next_page_elsewhere', 'named a next page elsewhere'],
    ['pages without end', { kind: 'endless' }, 'too_many_memberships', 'more than 49950 memberships'],
    ['a connection reset', { kind: 'reset' }, 'graph_unreachable', 'ECONNRESET'],
    ['an answer that is not JSON', { kind: 'not-json' }, 'bad_answer', 'no JSON'],
  ] as const)(
    '%s: the sign-in goes on without groups, says why, and is refused by group rules',
    async (_what, behaviour, reason, detail) => {
      graph.behaviour =
        behaviour === 'elsewhere' ? { kind: 'next-elsewhere', elsewhere: elsewhere.origin } : behaviour;
      const failures = stack.sidecar.events('groups_list_failed').length;
      const browser = new HttpBrowser();
      const pages = await signInWithDevProvider(browser, `${stack.origin}/reports`, 'carol');
      expect(pages.at(-1)?.status).toBe(403);
      expect(pages.at(-1)?.body).toContain('left your groups out');
      expect(lastSignIn('carol')).toMatchObject({ groups: 0, groupsLeftOut: true });
      const failed = stack.sidecar.events('groups_list_failed').slice(failures);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ provider: 'dev', sub: 'carol', when: 'sign_in', reason });
      expect(String(failed[0]?.detail)).toContain(detail);
      // Counted by reason, for an alert.
      expect(await stack.sidecar.metrics.registry.metrics()).toMatch(
        new RegExp(`gatehouse_auth_events_total\\{[^}]*event="groups_list_failed"[^}]*reason="${reason}"`),
      );
      // The token never went to the other origin.
      expect(elsewhere.requests).toEqual([]);
    },
  );

  it('a browser that leaves while Graph is silent: the listing is let go at once, and the sign-in ends as the client gone', async () => {
    graph.behaviour = { kind: 'silent' };
    const browser = new HttpBrowser();
    const form = (await browser.follow(`${stack.origin}/reports`)).at(-1);
    if (!form) throw new Error('no login form');
    // Up to the provider's redirect back to the callback, which the test sends itself.
    const pages = await submitForm(browser, form, { login: 'carol', password: 'any' }, (url) =>
      url.includes('/.gatehouse/callback'),
    );
    const callback = new URL(String(pages.at(-1)?.headers.location), pages.at(-1)?.url).href;
    const asked = graph.requests.length;
    // The browser's callback request on a raw connection, reset once the listing is at Graph.
    const target = new URL(callback);
    const raw = await openRaw(Number(target.port));
    raw.socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/html\r\nCookie: ${browser.cookieHeader(callback)}\r\n\r\n`,
    );
    await eventually(async () => graph.requests.length > asked, 5_000, 'the listing asked Graph');
    const left = performance.now();
    raw.socket.resetAndDestroy();
    await eventually(async () => graph.released.length > 0, 2_000, 'Graph let go');
    expect((graph.released.at(-1) ?? 0) - left).toBeLessThan(1_000); // not the 10 s of a silent Graph
    const failed = await eventually(
      async () =>
        stack.sidecar
          .events('login_failed')
          .filter((l) => l.reason === 'client_gone')
          .at(-1),
      2_000,
      'the sign-in ended as the client gone',
    );
    expect(failed).toMatchObject({ provider: 'dev', detail: 'at_provider' });
    graph.behaviour = { kind: 'answer' };
  });

  it('a refresh lists them again; one that fails keeps the groups the session had', async () => {
    graph.behaviour = { kind: 'answer' };
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/before-refresh`, 'carol');
    const before = graph.requests.length;
    await sleep(2_200);
    expect((await browser.fetch(`${stack.origin}/after-refresh`)).status).toBe(200);
    expect(graph.requests.length - before).toBe(5);
    // Graph fails at the next refresh: the session keeps its groups, and the event says why.
    graph.behaviour = { kind: 'status', status: 503, code: 'ServiceUnavailable' };
    await sleep(2_200);
    expect((await browser.fetch(`${stack.origin}/graph-down`)).status).toBe(200);
    expect(stack.sidecar.events('groups_list_failed').at(-1)).toMatchObject({
      sub: 'carol',
      when: 'refresh',
      reason: 'graph_error',
    });
    graph.behaviour = { kind: 'answer' };
  });
});
