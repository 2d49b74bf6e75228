import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, signInWithDevProvider } from '../helpers/http-browser.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// What a dashboard and alerts need from the sidecar beyond requests: sign-ins, their failures by
// reason, sign-outs, the sessions held, readiness.

let stack: SignInStack;
beforeAll(async () => {
  stack = await startSignInStack();
});
afterAll(() => stack.close());

async function metric(name: string, labels = ''): Promise<number | undefined> {
  const text = await stack.sidecar.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('auth metrics', () => {
  it('count sign-ins, failures by reason and sign-outs, and the sessions held', async () => {
    expect(await metric('gatehouse_ready')).toBe(1);
    expect(await metric('gatehouse_sessions_active')).toBe(0);
    const browser = new HttpBrowser();
    await signInWithDevProvider(browser, `${stack.origin}/dashboard`, 'alice');
    expect(
      await metric('gatehouse_auth_events_total', 'app="test-app",event="login_succeeded",reason=""'),
    ).toBe(1);
    expect(await metric('gatehouse_sessions_active')).toBe(1);

    // A callback without state: a failed sign-in, counted by its reason.
    await new HttpBrowser().fetch(`${stack.origin}/.gatehouse/callback?code=x`);
    expect(
      await metric(
        'gatehouse_auth_events_total',
        'app="test-app",event="login_failed",reason="state_missing"',
      ),
    ).toBe(1);

    const asked = await browser.fetch(`${stack.origin}/.gatehouse/logout`);
    expect(asked.status).toBe(200);
    await browser.fetch(`${stack.origin}/.gatehouse/logout`, {
      method: 'POST',
      headers: { origin: stack.origin, 'sec-fetch-site': 'same-origin' },
    });
    expect(await metric('gatehouse_auth_events_total', 'app="test-app",event="logout",reason=""')).toBe(1);
    expect(await metric('gatehouse_sessions_active')).toBe(0);
  });
});
