import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/http-browser.ts';
import { SIGN_IN_POLICIES, type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// Browsers send a CORS preflight (OPTIONS) without cookies, so an application that needs sign-in
// refused every preflight (401), and with it every cross-origin call of a signed-in page. The
// recipe docs/policy.md gives: a bypass for OPTIONS on the API paths, before the other policies.

let stack: SignInStack;
beforeAll(async () => {
  stack = await startSignInStack({
    policies: {
      'cors-preflight': {
        decision: 'bypass',
        include: [{ methods: ['OPTIONS'] }],
        require: [{ paths: ['/api/**'] }],
      },
      ...SIGN_IN_POLICIES,
    },
  });
});
afterAll(() => stack.close());

const preflight = {
  method: 'OPTIONS',
  headers: { origin: 'https://dashboard.example', 'access-control-request-method': 'PUT' },
};

describe('the CORS preflight recipe', () => {
  it('lets a preflight of the API paths reach the application, and nothing else through without sign-in', async () => {
    const browser = new HttpBrowser();
    const before = stack.upstream.seen.length;
    expect((await browser.fetch(`${stack.origin}/api/items`, preflight)).status).toBe(200);
    expect(stack.upstream.seen.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      'OPTIONS /api/items',
    ]);
    expect((await browser.fetch(`${stack.origin}/admin`, preflight)).status).toBe(401);
    const get = { headers: { accept: 'application/json', origin: 'https://dashboard.example' } };
    expect((await browser.fetch(`${stack.origin}/api/items`, get)).status).toBe(401);
    expect(stack.upstream.seen.length).toBe(before + 1);
    const lines = stack.sidecar.records().slice(-3);
    expect(lines.map((l) => (l.decision as { policy?: string } | null)?.policy ?? null)).toEqual([
      'cors-preflight',
      'engineers',
      'engineers',
    ]);
  });
});
