import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForgedProvider, startForgedProvider } from '../helpers/forged-provider.ts';
import { statusesOf } from '../helpers/hostile.ts';
import {
  getSignedIn as get,
  headerOf,
  type SignInSidecar,
  signInAgain,
  startSignInSidecar,
} from '../helpers/raw-sign-in.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// Step-up authentication: a policy lists the classes of sign-in it takes (`acrValues`, the ID
// token's `acr`); a signed-in user whose sign-in is of another class is sent to sign in again,
// the provider asked for those classes (`acr_values`), rather than refused. The built sidecar, as
// shipped, over raw sockets, against a provider that steps up when asked (or, here, does not).

const PAGE = 'Accept: text/html\r\nConnection: close\r\n';

let upstream: TestUpstream;
let provider: ForgedProvider;
/** An application whose admin area takes a phishing-resistant sign-in only. */
let app: SignInSidecar;
beforeAll(async () => {
  upstream = await startUpstream();
  provider = await startForgedProvider('gatehouse');
  app = await startSignInSidecar(
    provider.issuer,
    upstream.url,
    [],
    {},
    {
      'admins-phishing-resistant': {
        decision: 'allow',
        include: [{ paths: ['/admin/**'] }],
        require: [{ groups: ['engineering'] }, { acrValues: ['phrh', 'phr'] }],
      },
      engineers: {
        decision: 'allow',
        include: [{ groups: ['engineering'] }],
        exclude: [{ paths: ['/admin/**'] }],
      },
    },
  );
});
afterAll(async () => {
  await app?.stop();
  await provider?.close();
  await upstream?.close();
});

/** Signs in from `from`, the provider classing the sign-in as `acr` (none: no acr). */
async function signedInAs(from: string, acr?: string): Promise<string> {
  provider.claims = acr === undefined ? {} : { acr };
  provider.ignoresAcrValues = false;
  return app.signIns.complete(from);
}

describe('acrValues: step-up authentication', () => {
  it('a password sign-in: the admin area sends the page to sign in again asking for the classes, an API call gets the RFC 9470 challenge with acr_values; other paths go on', async () => {
    const from = '127.0.0.61';
    const cookie = await signedInAs(from, 'pwd');
    const seen = upstream.seen.length;
    expect((await get(app, '/docs', from, cookie, PAGE)).status).toBe(200);

    const page = await get(app, '/admin/users?tab=2', from, cookie, PAGE);
    expect(page.status).toBe(302);
    expect(headerOf(page.text, 'location')).toBe(
      `http://${app.host}/.gatehouse/login?rd=%2Fadmin%2Fusers%3Ftab%3D2&fresh=1&acr=phrh%20phr`,
    );
    expect(page.line.decision).toEqual({
      action: 'deny',
      policy: 'admins-phishing-resistant',
      rule: null,
      reason: 'fresh_sign_in_required',
    });

    const api = await get(app, '/admin/api/users', from, cookie);
    expect(api.status).toBe(401);
    // No signedInWithin in the application: no max_age.
    expect(headerOf(api.text, 'www-authenticate')).toBe(
      'Bearer realm="gatehouse", error="insufficient_user_authentication", error_description="A stronger sign-in is required", acr_values="phrh phr"',
    );
    expect(api.line).toMatchObject({ status: 401, error: 'fresh_sign_in_required' });
    expect(upstream.seen.slice(seen).map((r) => r.url)).toEqual(['/docs']);
  });

  it('signing in again asks the provider for acr_values; it steps up and the admin area opens', async () => {
    const from = '127.0.0.62';
    const cookie = await signedInAs(from);
    const again = await signInAgain(
      app,
      '/.gatehouse/login?rd=%2Fadmin%2Fusers&fresh=1&acr=phrh%20phr',
      from,
      cookie,
    );
    expect(again.providerUrl.searchParams.get('acr_values')).toBe('phrh phr');
    expect(again.providerUrl.searchParams.has('max_age')).toBe(false);
    expect(again.status).toBe(302);
    expect(headerOf(again.answer, 'location')).toBe(`http://${app.host}/admin/users`);
    const admin = await get(app, '/admin/users', from, again.session, PAGE);
    expect(admin.status).toBe(200);
    expect(admin.line.decision).toMatchObject({
      policy: 'admins-phishing-resistant',
      reason: 'path_matched',
    });
    // The application is told the class: the JWT's acr, the identity document's; the person, on
    // the session page.
    const jwt = String(upstream.seen.at(-1)?.headers['x-gatehouse-jwt-assertion']);
    expect(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString())).toMatchObject({
      acr: 'phrh',
    });
    const document = await get(app, '/.gatehouse/userinfo', from, again.session);
    expect(JSON.parse(document.text.slice(document.text.indexOf('\r\n\r\n') + 4))).toMatchObject({
      acr: 'phrh',
    });
    const sessionPage = await get(app, '/.gatehouse/', from, again.session, PAGE);
    expect(sessionPage.text).toContain(
      '<tr><th scope="row">Class of sign-in</th><td><code>phrh</code></td></tr>',
    );
  });

  it('a provider that ignores acr_values: the sign-in fails with acr_not_satisfied, not a loop of sign-ins; the session the browser had goes on', async () => {
    const from = '127.0.0.63';
    const cookie = await signedInAs(from, 'pwd');
    provider.ignoresAcrValues = true;
    try {
      const again = await signInAgain(
        app,
        '/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=phrh%20phr',
        from,
        cookie,
      );
      expect(again.status).toBe(401);
      expect(again.answer).toContain('did not confirm the stronger sign-in');
      expect(again.session).toBe('');
      const failed = await app.process.waitForLine((l) => l.type === 'login_failed' && l.clientIp === from);
      expect(failed).toMatchObject({
        reason: 'acr_not_satisfied',
        detail: 'the ID token\'s acr is "pwd"; acr_values phrh phr were asked',
      });
    } finally {
      provider.ignoresAcrValues = false;
    }
    expect((await get(app, '/docs', from, cookie, PAGE)).status).toBe(200);
  });

  it('a login link that names classes no policy lists: the provider is asked only for those the policies list, or the browser is sent back', async () => {
    const from = '127.0.0.64';
    const cookie = await signedInAs(from, 'pwd');
    const mixed = await signInAgain(
      app,
      '/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=urn%3Aevil%20phr%20phr',
      from,
      cookie,
    );
    expect(mixed.providerUrl.searchParams.get('acr_values')).toBe('phr');
    const unknown = await app.signIns.send(
      '/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=urn%3Aevil',
      from,
      cookie,
    );
    const head = await unknown.waitFor(/\r\n\r\n/);
    expect(statusesOf(head)[0]).toBe(302);
    expect(headerOf(head, 'location')).toBe(`http://${app.host}/admin`);
  });

  it('hostile: a login link naming a thousand classes in a near-full head asks for the listed one once; 30 pipelined admin requests of a password session are each answered 401 in order', async () => {
    const from = '127.0.0.67';
    const cookie = await signedInAs(from, 'pwd');
    // About 10 KB of classes: the head stays under the sidecar's 16 KiB with the session cookie.
    const junk = Array.from({ length: 1_200 }, (_, i) => (i === 900 ? 'phr' : `x${i}`)).join('%20');
    const started = performance.now();
    const many = await signInAgain(app, `/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=${junk}`, from, cookie);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(many.providerUrl.searchParams.get('acr_values')).toBe('phr');

    const one = `GET /admin/api/keys HTTP/1.1\r\nHost: ${app.host}\r\nCookie: ${cookie}\r\n\r\n`;
    const client = await app.signIns.send('/admin/api/keys', from, cookie, '');
    client.socket.write(one.repeat(29) + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    await client.closed;
    expect(statusesOf(client.received())).toEqual(Array(31).fill(401));
    expect(client.received().match(/acr_values="phrh phr"/g)?.length).toBe(31);
    expect(app.process.child.exitCode).toBeNull();
  });

  it('an anonymous page of the admin area signs in once, asking for the classes already; other pages get the ordinary sign-in', async () => {
    const browser = '127.0.0.68';
    provider.claims = { acr: 'pwd' };
    const anonymous = await get(app, '/admin', browser, '', PAGE);
    expect(anonymous.status).toBe(302);
    expect(headerOf(anonymous.text, 'location')).toBe(
      `http://${app.host}/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=phrh%20phr`,
    );
    expect(anonymous.line.decision).toMatchObject({
      reason: 'login_required',
      policy: 'admins-phishing-resistant',
    });
    const signIn = await signInAgain(
      app,
      '/.gatehouse/login?rd=%2Fadmin&fresh=1&acr=phrh%20phr',
      browser,
      '',
    );
    expect(signIn.providerUrl.searchParams.get('acr_values')).toBe('phrh phr');
    expect(signIn.status).toBe(302);
    expect((await get(app, '/admin', browser, signIn.session, PAGE)).status).toBe(200);

    const docs = await get(app, '/docs', '127.0.0.69', '', PAGE);
    expect(headerOf(docs.text, 'location')).toBe(`http://${app.host}/.gatehouse/login?rd=%2Fdocs`);
  });

  it('a user no stronger sign-in would let in gets 403; one whose sign-in is of a listed class is let in at once', async () => {
    const outsider = '127.0.0.65';
    provider.claims = { groups: ['sales'], acr: 'pwd' };
    const cookie = await app.signIns.complete(outsider);
    const page = await get(app, '/admin', outsider, cookie, PAGE);
    expect(page.status).toBe(403);
    expect(page.line.decision).toMatchObject({ action: 'deny', reason: 'no_policy_matched' });

    const strong = '127.0.0.66';
    const key = await signedInAs(strong, 'phr');
    const admin = await get(app, '/admin', strong, key, PAGE);
    expect(admin.status).toBe(200);
  });
});
