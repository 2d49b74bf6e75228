import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../sidecar/src/auth/sealed.ts';
import { TEST_KEYS } from '../helpers/fixtures.ts';
import type { ForgedProvider } from '../helpers/forged-provider.ts';
import { type ForgedSignIn, startForgedSignIn } from '../helpers/forged-sign-in.ts';
import { eventually, openRaw, sleep } from '../helpers/hostile.ts';
import type { InProcessSidecar } from '../helpers/in-process.ts';
import { testSession } from '../helpers/test-session.ts';

// A sign-in is a call to the provider made for someone not yet identified by it. A browser that
// also carries a session (any employee's) must not make its callbacks count as that user's, or
// thirty sessions from one address would take every turn, the ones kept for refreshes too.

let stack: ForgedSignIn;
let provider: ForgedProvider;
let gate: InProcessSidecar;
const sockets: Socket[] = [];
const sealer = createSealer(TEST_KEYS('ES256').cookie);

beforeAll(async () => {
  stack = await startForgedSignIn();
  ({ provider, gate } = stack);
  provider.forgery = 'unknown_codes_hang';
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await stack?.close();
});

async function exchange(head: string): Promise<string> {
  const client = await openRaw(gate.port);
  sockets.push(client.socket);
  client.socket.write(`${head}Host: 127.0.0.1:${gate.port}\r\nConnection: close\r\n\r\n`);
  return client.waitFor(/\r\n\r\n/);
}

describe('turns for calls to the identity provider', () => {
  it('callbacks from browsers with sessions of thirty users at one address hold that address’s 8 turns', async () => {
    for (let i = 0; i < 30; i++) {
      const login = await exchange('GET /.gatehouse/login?rd=/ HTTP/1.1\r\n');
      const state = new URL(/^location: (.*)$/im.exec(login)?.[1]?.trim() ?? '').searchParams.get('state');
      const tx = /^set-cookie: ([^;]*)/im.exec(login)?.[1];
      const session = await sealer.seal('session', testSession(`user-${i}`, 3600, ['engineering']));
      const client = await openRaw(gate.port);
      sockets.push(client.socket);
      client.socket.write(
        `GET /.gatehouse/callback?state=${state}&code=forged-${i} HTTP/1.1\r\nHost: 127.0.0.1:${gate.port}\r\n` +
          `Cookie: ${tx}; _gatehouse=${session}\r\nConnection: close\r\n\r\n`,
      );
    }
    await eventually('the calls made', () => provider.tokenRequests.open >= 8);
    await sleep(300);
    expect(provider.tokenRequests.open).toBe(8);
    for (const s of sockets) s.destroy();
  });
});
