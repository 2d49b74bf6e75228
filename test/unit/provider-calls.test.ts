import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Claimant, createAdmission } from '../../lib/admission.ts';
import {
  PROVIDER_CALL_LIMITS,
  ProviderBusyError,
  withProviderTurn,
} from '../../sidecar/src/auth/provider-calls.ts';

const anon = (ip: string): Claimant => ({ key: `ip:${ip}`, anonymous: true });
const user = (sub: string): Claimant => ({ key: `user:${sub}`, anonymous: false });

/** A stand-in for a client connection: only what the gate reads of one. */
function connection(): Socket & { close(): void } {
  const emitter = new EventEmitter() as EventEmitter & { destroyed: boolean; close(): void };
  emitter.destroyed = false;
  emitter.close = () => {
    emitter.destroyed = true;
    emitter.emit('close');
  };
  return emitter as unknown as Socket & { close(): void };
}

/** A call that runs until the test settles it, counting how many were started. */
function heldCalls() {
  const settle: Array<(v: string) => void> = [];
  return {
    started: () => settle.length,
    call: () => new Promise<string>((resolve) => settle.push(resolve)),
    finish(i: number, value = 'done') {
      settle[i]?.(value);
    },
  };
}

const why = (p: Promise<unknown>) =>
  p.then(
    () => 'called',
    (e: unknown) => (e instanceof ProviderBusyError ? e.why : String(e)),
  );

const tick = () => new Promise((r) => setImmediate(r));

describe('calls to identity providers', () => {
  it('the shipped limits: 32 at once, 24 of them for sign-ins, 8 per client address, 5 s in line', () => {
    const gate = createAdmission(PROVIDER_CALL_LIMITS);
    try {
      const held = heldCalls();
      const results: Promise<string>[] = [];
      for (let i = 0; i < 50; i++) results.push(why(withProviderTurn(gate, anon('a'), null, held.call)));
      expect(gate.inUse).toBe(8);
      expect(gate.waiting).toBe(32); // a quarter of the line of 128
      for (let i = 0; i < 20; i++) results.push(why(withProviderTurn(gate, anon(`b${i}`), null, held.call)));
      expect(gate.inUse).toBe(24); // anonymous callers hold three quarters of 32
      for (let i = 0; i < 8; i++) results.push(why(withProviderTurn(gate, user(`u${i}`), null, held.call)));
      expect(gate.inUse).toBe(32); // signed-in users' refreshes still get their turns
      expect(PROVIDER_CALL_LIMITS.queueTimeoutMs).toBe(5_000);
    } finally {
      gate.close(); // refuses everything still in line
    }
  });

  it('refused callers are never called and say why', async () => {
    const gate = createAdmission({ ...PROVIDER_CALL_LIMITS, capacity: 1, maxQueue: 1, clientShare: 1 });
    const held = heldCalls();
    const first = why(withProviderTurn(gate, user('a'), null, held.call));
    const queued = why(withProviderTurn(gate, user('b'), null, held.call));
    const refused = await why(withProviderTurn(gate, user('c'), null, held.call));
    expect(refused).toBe('queue_full');
    await tick();
    expect(held.started()).toBe(1);
    held.finish(0);
    expect(await first).toBe('called');
    await tick();
    expect(held.started()).toBe(2); // the turn given back went to the one in line
    held.finish(1);
    expect(await queued).toBe('called');
    expect(gate.inUse).toBe(0);
  });

  it('a client whose connection closes while it waits leaves the line, uncalled', async () => {
    const gate = createAdmission({ ...PROVIDER_CALL_LIMITS, capacity: 1, clientShare: 1 });
    const held = heldCalls();
    const first = why(withProviderTurn(gate, anon('a'), null, held.call));
    const socket = connection();
    const waiting = why(withProviderTurn(gate, anon('b'), socket, held.call));
    expect(gate.waiting).toBe(1);
    socket.close();
    expect(await waiting).toBe('client_gone');
    expect(gate.waiting).toBe(0);
    held.finish(0);
    await first;
    await tick();
    expect(held.started()).toBe(1);
    expect(gate.inUse).toBe(0);
    // One already closed is not even put in line.
    expect(await why(withProviderTurn(gate, anon('c'), socket, held.call))).toBe('client_gone');
  });

  it('a call that is running finishes although its client left, then gives its turn back', async () => {
    const gate = createAdmission({ ...PROVIDER_CALL_LIMITS, capacity: 1, clientShare: 1 });
    const held = heldCalls();
    const socket = connection();
    const running = why(withProviderTurn(gate, anon('a'), socket, held.call));
    await tick();
    socket.close();
    expect(gate.inUse).toBe(1);
    held.finish(0);
    expect(await running).toBe('called');
    expect(gate.inUse).toBe(0);
    expect(socket.listenerCount('close')).toBe(0);
  });

  it('a call that fails gives its turn back and passes its error on', async () => {
    const gate = createAdmission({ ...PROVIDER_CALL_LIMITS, capacity: 1, clientShare: 1 });
    const failing = withProviderTurn(gate, user('a'), null, async () => {
      throw new Error('provider said no');
    });
    await expect(failing).rejects.toThrow('provider said no');
    expect(gate.inUse).toBe(0);
    const throwing = withProviderTurn(gate, user('a'), null, () => {
      throw new Error('thrown before a promise');
    });
    await expect(throwing).rejects.toThrow('thrown before a promise');
    expect(gate.inUse).toBe(0);
  });
});
