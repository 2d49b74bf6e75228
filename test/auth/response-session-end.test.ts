import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kernelSendQueue, sleep, watchSocket, within } from '../helpers/hostile.ts';
import {
  inProgressApplication,
  inProgressStack,
  lineOf,
  longPoll,
  revokingSession,
  signedIn,
  upstreamDone,
} from '../helpers/requests-in-progress.ts';
import { openEventStream } from '../helpers/session-ends.ts';
import { type SignInStack, startSignInStack } from '../helpers/sign-in-stack.ts';

// A request is judged when it arrives, but a stream of events, a long poll or a long download
// makes no further request: before, the event stream of a session signed out, revoked or past its
// absolute lifetime went on for as long as the application kept it open (8 s and counting after a
// sign-out, in the probe), as did one its policies no longer allowed.

describe('a session that reaches its absolute lifetime', () => {
  let stack: SignInStack;
  beforeAll(async () => {
    stack = await startSignInStack({
      application: inProgressApplication,
      authentication: { session: { absoluteLifetime: '3s' } },
    });
  });
  afterAll(async () => stack?.close());

  it('has its stream of events cut and its long poll answered 401 then, each with its event and line', async () => {
    const signedInAt = performance.now();
    const { cookie, sessionId } = await signedIn(stack);
    const stream = await openEventStream(stack.origin, cookie, '/expiring/events');
    const poll = await longPoll(stack, cookie, '/expiring/poll');
    const [ended, answer] = await within(
      Promise.all([stream.ended, poll.answered]),
      5_000,
      'the end of both',
    );
    expect(ended.how).toBe('error');
    expect(answer.status).toBe(401);
    // The session began before the sign-in's last redirect; it ends 3 s after it, to the second.
    for (const at of [ended.at, answer.at]) expect(at - signedInAt).toBeLessThan(3_600);
    const closed = stack.sidecar.events('response_closed');
    expect(closed).toHaveLength(2);
    for (const event of closed) expect(event).toMatchObject({ reason: 'credential_expired', sessionId });
    expect(await lineOf(stack, '/expiring/events')).toMatchObject({
      status: 200,
      outcome: 'denied',
      error: 'credential_expired',
    });
    expect(await lineOf(stack, '/expiring/poll')).toMatchObject({
      status: 401,
      outcome: 'denied',
      error: 'credential_expired',
    });
    // The application's side of both ended with them.
    await upstreamDone('/expiring/events', '/expiring/poll');
  }, 20_000);
});

describe('a new config', () => {
  const stack = inProgressStack();
  const install = stack.install;

  it('that revokes a session ends its stream and long poll at once, counts them, and leaves another session of the same user alone', async () => {
    const victim = await signedIn(stack());
    const other = await signedIn(stack());
    const stolen = await openEventStream(stack().origin, victim.cookie, '/revoked/events');
    const stolenPoll = await longPoll(stack(), victim.cookie, '/revoked/poll');
    // A page the application is slow to make: the browser is sent to sign in, as it would be now.
    const stolenPage = await longPoll(stack(), victim.cookie, '/revoked/poll-page', 'text/html');
    const kept = await openEventStream(stack().origin, other.cookie, '/kept/events');
    const revokedAt = performance.now();
    install((config) => ({
      ...config,
      revocations: [
        {
          name: 'stolen-laptop',
          user: null,
          subject: null,
          provider: null,
          session: victim.sessionId,
          before: Math.ceil(Date.now() / 1000),
          reason: 'INC-7',
        },
      ],
    }));
    const [ended, answer] = await within(
      Promise.all([stolen.ended, stolenPoll.answered]),
      2_000,
      'the end of both',
    );
    expect(ended.how).toBe('error');
    expect(ended.at - revokedAt).toBeLessThan(200);
    expect(answer).toMatchObject({ status: 401 });
    expect(answer.body).toContain('Your session has ended');
    expect(await within(stolenPage.answered, 2_000, 'the page answered')).toMatchObject({
      status: 302,
      location: `${stack().origin}/.gatehouse/login?rd=%2Frevoked%2Fpoll-page`,
    });
    expect(stack().sidecar.events('revocation_applied').at(-1)).toMatchObject({
      revocation: 'stolen-laptop',
      websocketsClosed: 0,
      responsesClosed: 3,
    });
    const closed = expect.objectContaining({
      reason: 'session_revoked',
      revocation: 'stolen-laptop',
      sessionId: victim.sessionId,
    });
    expect(stack().sidecar.events('response_closed')).toEqual([closed, closed, closed]);
    expect(await lineOf(stack(), '/revoked/poll-page')).toMatchObject({
      status: 302,
      outcome: 'login_redirect',
      error: 'session_revoked',
    });
    expect(await lineOf(stack(), '/revoked/events')).toMatchObject({
      outcome: 'denied',
      error: 'session_revoked',
    });
    // The other session's stream goes on.
    const more = await Promise.race([kept.ended.then(() => 'ended'), sleep(500).then(() => 'open')]);
    expect(more).toBe('open');
    kept.close();
  }, 20_000);

  it('whose policies deny a caller now cuts its stream and answers its waiting request 403; what they still allow goes on', async () => {
    const { cookie } = await signedIn(stack());
    const denied = await openEventStream(stack().origin, cookie, '/reports/events');
    const deniedPoll = await longPoll(stack(), cookie, '/reports/poll');
    const deniedPage = await longPoll(stack(), cookie, '/reports/poll-page', 'text/html');
    const allowed = await openEventStream(stack().origin, cookie, '/wiki/events');
    install((config) => ({
      ...config,
      policies: config.policies.map((p) =>
        p.name.endsWith('engineers') ? { ...p, exclude: [{ paths: ['/reports/**'] }] } : p,
      ),
    }));
    const [ended, answer] = await within(
      Promise.all([denied.ended, deniedPoll.answered]),
      2_000,
      'the end of both',
    );
    expect(ended.how).toBe('error');
    expect(answer.status).toBe(403);
    // A person gets the page that says who is signed in and where to go.
    const page = await within(deniedPage.answered, 2_000, 'the page answered');
    expect(page.status).toBe(403);
    expect(page.body).toContain('alice@example.com');
    const closed = expect.objectContaining({
      reason: 'policy_changed',
      decision: expect.objectContaining({ action: 'deny' }),
    });
    expect(stack().sidecar.events('response_closed').slice(-3)).toEqual([closed, closed, closed]);
    expect(await lineOf(stack(), '/reports/poll')).toMatchObject({
      status: 403,
      outcome: 'denied',
      error: 'policy_changed',
    });
    await upstreamDone('/reports/events', '/reports/poll');
    const more = await Promise.race([allowed.ended.then(() => 'ended'), sleep(500).then(() => 'open')]);
    expect(more).toBe('open');
    allowed.close();
  }, 20_000);

  it('resets the connection of a client that reads nothing of its stream: what the kernel held for it is dropped', async () => {
    const { cookie, sessionId } = await signedIn(stack());
    const socket = connect(stack().sidecar.port, '127.0.0.1');
    const client = watchSocket(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause(); // reads nothing: the sidecar's send queue to it fills
    socket.write(`GET /stalled/flood HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ${cookie}\r\n\r\n`);
    const local = socket.localPort as number;
    await eventually(
      'the send queue to the client full',
      () => (kernelSendQueue(stack().sidecar.port, local) ?? 0) > 100_000,
    );
    install(revokingSession('stalled', sessionId));
    // A close would have left the queue to drain into the client for as long as it liked.
    await eventually(
      'the send queue to the client gone',
      () => kernelSendQueue(stack().sidecar.port, local) === undefined,
      2_000,
    );
    socket.resume();
    await client.closed;
    expect(client.reset()).toBe(true);
    expect(await lineOf(stack(), '/stalled/flood')).toMatchObject({
      outcome: 'denied',
      error: 'session_revoked',
    });
    await upstreamDone('/stalled/flood');
  }, 20_000);
});
