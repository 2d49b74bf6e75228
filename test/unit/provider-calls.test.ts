import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { AdmissionSettings, Claimant } from '../../lib/admission.ts';
import {
  createProviderCalls,
  PROVIDER_CALL_LIMITS,
  ProviderBusyError,
  ProviderCallCancelled,
  providerCallSignal,
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

/**
 * A call that runs until the test settles it, counting how many were started. Like a fetch, it
 * ends with an AbortError when the signal of the call it runs in is aborted.
 */
function heldCalls() {
  const settle: Array<(v: string) => void> = [];
  const signals: Array<AbortSignal | undefined> = [];
  return {
    started: () => settle.length,
    signals,
    call: () =>
      new Promise<string>((resolve, reject) => {
        settle.push(resolve);
        const signal = providerCallSignal();
        signals.push(signal);
        signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      }),
    finish(i: number, value = 'done') {
      settle[i]?.(value);
    },
  };
}

const why = (p: Promise<unknown>) =>
  p.then(
    () => 'called',
    (e: unknown) =>
      e instanceof ProviderBusyError
        ? e.why
        : e instanceof ProviderCallCancelled
          ? `${e.why}/${e.stage}`
          : String(e),
  );

const callsWith = (limits: Partial<AdmissionSettings>) =>
  createProviderCalls({ ...PROVIDER_CALL_LIMITS, ...limits });

const tick = () => new Promise((r) => setImmediate(r));

describe('calls to identity providers', () => {
  it('the shipped limits: 32 at once, 24 of them for sign-ins, 8 per client address, 5 s in line', () => {
    const calls = createProviderCalls();
    const gate = calls.gate;
    try {
      const held = heldCalls();
      const results: Promise<string>[] = [];
      for (let i = 0; i < 50; i++) results.push(why(withProviderTurn(calls, anon('a'), null, held.call)));
      expect(gate.inUse).toBe(8);
      expect(gate.waiting).toBe(32); // a quarter of the line of 128
      for (let i = 0; i < 20; i++) results.push(why(withProviderTurn(calls, anon(`b${i}`), null, held.call)));
      expect(gate.inUse).toBe(24); // anonymous callers hold three quarters of 32
      for (let i = 0; i < 8; i++) results.push(why(withProviderTurn(calls, user(`u${i}`), null, held.call)));
      expect(gate.inUse).toBe(32); // signed-in users' refreshes still get their turns
      expect(PROVIDER_CALL_LIMITS.queueTimeoutMs).toBe(5_000);
    } finally {
      gate.close(); // refuses everything still in line
    }
  });

  it('refused callers are never called and say why', async () => {
    const calls = callsWith({ capacity: 1, maxQueue: 1, clientShare: 1 });
    const gate = calls.gate;
    const held = heldCalls();
    const first = why(withProviderTurn(calls, user('a'), null, held.call));
    const queued = why(withProviderTurn(calls, user('b'), null, held.call));
    const refused = await why(withProviderTurn(calls, user('c'), null, held.call));
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
    const calls = callsWith({ capacity: 1, clientShare: 1 });
    const gate = calls.gate;
    const held = heldCalls();
    const first = why(withProviderTurn(calls, anon('a'), null, held.call));
    const socket = connection();
    const waiting = why(withProviderTurn(calls, anon('b'), socket, held.call));
    expect(gate.waiting).toBe(1);
    socket.close();
    expect(await waiting).toBe('client_gone/waiting');
    expect(gate.waiting).toBe(0);
    held.finish(0);
    await first;
    await tick();
    expect(held.started()).toBe(1);
    expect(gate.inUse).toBe(0);
    // One already closed is not even put in line.
    expect(await why(withProviderTurn(calls, anon('c'), socket, held.call))).toBe('client_gone/waiting');
  });

  it('a call at the provider whose client leaves is aborted, and gives its turn back as it ends', async () => {
    const calls = callsWith({ capacity: 1, clientShare: 1 });
    const gate = calls.gate;
    const held = heldCalls();
    const socket = connection();
    const running = why(withProviderTurn(calls, anon('a'), socket, held.call));
    const next = why(withProviderTurn(calls, anon('b'), null, held.call));
    await tick();
    expect(held.signals[0]?.aborted).toBe(false);
    socket.close();
    expect(held.signals[0]?.aborted).toBe(true);
    expect(await running).toBe('client_gone/at_provider');
    await tick();
    expect(held.started()).toBe(2); // the turn went to the next one in line
    held.finish(1);
    expect(await next).toBe('called');
    expect(gate.inUse).toBe(0);
    expect(socket.listenerCount('close')).toBe(0);
  });

  it('a call whose answer is in when its client leaves keeps it', async () => {
    const calls = callsWith({ capacity: 1, clientShare: 1 });
    const socket = connection();
    let release!: () => void;
    const answered = new Promise<void>((r) => {
      release = r;
    });
    // Past its fetches: the signal no longer reaches anything.
    const running = why(withProviderTurn(calls, anon('a'), socket, () => answered.then(() => 'tokens')));
    await tick();
    socket.close();
    release();
    expect(await running).toBe('called');
    expect(calls.gate.inUse).toBe(0);
  });

  it('at the end of the shutdown grace every call ends, in line or at the provider, and no new one starts', async () => {
    const calls = callsWith({ capacity: 2, clientShare: 0.5 });
    const held = heldCalls();
    const atProvider = [
      why(withProviderTurn(calls, user('a'), connection(), held.call)),
      why(withProviderTurn(calls, user('b'), null, held.call)),
    ];
    const inLine = why(withProviderTurn(calls, user('c'), connection(), held.call));
    await tick();
    expect([calls.gate.inUse, calls.gate.waiting]).toEqual([2, 1]);
    calls.abortAll();
    expect(await Promise.all(atProvider)).toEqual(['shutting_down/at_provider', 'shutting_down/at_provider']);
    expect(await inLine).toBe('shutting_down/waiting');
    expect([calls.gate.inUse, calls.gate.waiting]).toEqual([0, 0]);
    expect(await why(withProviderTurn(calls, user('d'), null, held.call))).toBe('shutting_down/waiting');
    expect(held.started()).toBe(2);
  });

  it('outside a call there is no signal: fetches made for no client are not tied to one', () => {
    expect(providerCallSignal()).toBeUndefined();
  });

  it('a call that fails gives its turn back and passes its error on', async () => {
    const calls = callsWith({ capacity: 1, clientShare: 1 });
    const gate = calls.gate;
    const failing = withProviderTurn(calls, user('a'), null, async () => {
      throw new Error('provider said no');
    });
    await expect(failing).rejects.toThrow('provider said no');
    expect(gate.inUse).toBe(0);
    const throwing = withProviderTurn(calls, user('a'), null, () => {
      throw new Error('thrown before a promise');
    });
    await expect(throwing).rejects.toThrow('thrown before a promise');
    expect(gate.inUse).toBe(0);
  });
});
