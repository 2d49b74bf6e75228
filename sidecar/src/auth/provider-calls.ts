import { AsyncLocalStorage } from 'node:async_hooks';
import type { Socket } from 'node:net';
import {
  type Admission,
  type AdmissionSettings,
  type Claimant,
  createAdmission,
  type Refusal,
} from '../../../lib/admission.ts';

/**
 * The calls a sidecar makes to identity providers on a client's behalf (the code exchange of a
 * sign-in with its userinfo, a session's refresh). Anyone can start a sign-in and bring its
 * callback, so without a bound one anonymous client turns each callback into a connection to the
 * provider, held for up to the provider timeout, and spends the application's client credentials
 * against the provider's rate limits. At most `capacity` calls run at once per sidecar; sign-ins
 * (anonymous) may hold three quarters of them, so refreshes of signed-in users always have room;
 * one client address holds at most a quarter and waits in line behind the others.
 */
export const PROVIDER_CALL_LIMITS: AdmissionSettings = {
  capacity: 32,
  anonymousShare: 0.75,
  clientShare: 0.25,
  queueTimeoutMs: 5_000,
  maxQueue: 128,
};

/** Seconds a browser is told to wait when the sign-in could not get a turn. */
export const PROVIDER_BUSY_RETRY_AFTER_SECONDS = 5;

/** The calls to identity providers of one sidecar: their turns, and their end when it shuts down. */
export interface ProviderCalls {
  readonly gate: Admission;
  /** Aborted when the shutdown grace ends: every call still in line or at a provider ends. */
  readonly closing: AbortSignal;
  /** Ends every call in line or at a provider and refuses new ones (the end of the shutdown grace). */
  abortAll(): void;
}

export function createProviderCalls(limits: AdmissionSettings = PROVIDER_CALL_LIMITS): ProviderCalls {
  const closing = new AbortController();
  return {
    gate: createAdmission(limits),
    closing: closing.signal,
    abortAll: () => closing.abort(),
  };
}

/** A call to a provider that was never made: no turn in time, or the line was full. */
export class ProviderBusyError extends Error {
  readonly code = 'provider_busy';
  readonly why: Refusal;
  constructor(why: Refusal) {
    super(`no turn for a call to the identity provider (${why})`);
    this.name = 'ProviderBusyError';
    this.why = why;
  }
}

/** Why a call to a provider ended before its answer: its client left, or the sidecar is closing. */
export type ProviderCallCancel = 'client_gone' | 'shutting_down';
/** Where it was: in line for a turn (the provider never heard of it) or at the provider (aborted). */
export type ProviderCallStage = 'waiting' | 'at_provider';

/** A call to a provider that ended without its answer because nobody needs the answer any more. */
export class ProviderCallCancelled extends Error {
  readonly code = 'provider_call_cancelled';
  readonly why: ProviderCallCancel;
  readonly stage: ProviderCallStage;
  constructor(why: ProviderCallCancel, stage: ProviderCallStage) {
    super(`the call to the identity provider was cancelled (${why}, ${stage})`);
    this.name = 'ProviderCallCancelled';
    this.why = why;
    this.stage = stage;
  }
}

/** The signal of the provider call this async context runs in: it ends that call's fetches. */
const runningCall = new AsyncLocalStorage<AbortSignal>();

/** The signal that ends the provider call running in this async context; undefined outside one. */
export function providerCallSignal(): AbortSignal | undefined {
  return runningCall.getStore();
}

/**
 * Runs `call` once it holds a turn, and gives the turn back when it settles. Rejects without
 * calling with ProviderBusyError when the gate refuses. `connection` is the client's, for calls
 * made for one client alone: when it closes, the call leaves the line, or, at the provider, its
 * fetches are aborted; either way it rejects with ProviderCallCancelled, as it does for every
 * call when the sidecar's calls are aborted at shutdown.
 */
export function withProviderTurn<T>(
  calls: ProviderCalls,
  claimant: Claimant,
  connection: Socket | null,
  call: () => Promise<T>,
): Promise<T> {
  if (calls.closing.aborted) return Promise.reject(new ProviderCallCancelled('shutting_down', 'waiting'));
  if (connection?.destroyed) return Promise.reject(new ProviderCallCancelled('client_gone', 'waiting'));
  return new Promise<T>((resolve, reject) => {
    let stage = 'waiting' as ProviderCallStage | 'done';
    const running = new AbortController();
    const cancel = (why: ProviderCallCancel): void => {
      if (stage === 'waiting') {
        settle();
        ticket.release();
        reject(new ProviderCallCancelled(why, 'waiting'));
      } else if (stage === 'at_provider') {
        running.abort(new ProviderCallCancelled(why, 'at_provider'));
      }
    };
    const clientGone = (): void => cancel('client_gone');
    const closing = (): void => cancel('shutting_down');
    const settle = (): void => {
      stage = 'done';
      connection?.off('close', clientGone);
      calls.closing.removeEventListener('abort', closing);
    };
    const ticket = calls.gate.request(
      claimant,
      () => {
        stage = 'at_provider';
        runningCall
          .run(running.signal, () => Promise.resolve().then(call))
          .then(resolve, (error: unknown) => reject(running.signal.aborted ? running.signal.reason : error))
          .finally(() => {
            settle();
            ticket.release();
          });
      },
      (why) => {
        settle();
        reject(new ProviderBusyError(why));
      },
    );
    if (stage !== 'done') {
      connection?.once('close', clientGone);
      calls.closing.addEventListener('abort', closing, { once: true });
    }
  });
}
