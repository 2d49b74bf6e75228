import type { Socket } from 'node:net';
import type { Admission, AdmissionSettings, Claimant, Refusal } from '../../../lib/admission.ts';

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

/** Why a call to a provider was not made: no turn in time, the line full, or the client left while waiting. */
export type ProviderBusyReason = Refusal | 'client_gone';

/** A call to a provider that was never made; the provider did not hear of it. */
export class ProviderBusyError extends Error {
  readonly code = 'provider_busy';
  readonly why: ProviderBusyReason;
  constructor(why: ProviderBusyReason) {
    super(`no turn for a call to the identity provider (${why})`);
    this.name = 'ProviderBusyError';
    this.why = why;
  }
}

/**
 * Runs `call` once it holds a turn, and gives the turn back when it settles. Rejects with
 * ProviderBusyError, without calling, when the gate refuses or when `connection` (the client's,
 * for calls made for one client alone) closes while it waits.
 */
export function withProviderTurn<T>(
  gate: Admission,
  claimant: Claimant,
  connection: Socket | null,
  call: () => Promise<T>,
): Promise<T> {
  if (connection?.destroyed) return Promise.reject(new ProviderBusyError('client_gone'));
  return new Promise<T>((resolve, reject) => {
    let waiting = true;
    const left = (): void => {
      if (!waiting) return;
      waiting = false;
      ticket.release();
      reject(new ProviderBusyError('client_gone'));
    };
    const ticket = gate.request(
      claimant,
      () => {
        waiting = false;
        connection?.off('close', left);
        Promise.resolve()
          .then(call)
          .then(resolve, reject)
          .finally(() => ticket.release());
      },
      (why) => {
        waiting = false;
        connection?.off('close', left);
        reject(new ProviderBusyError(why));
      },
    );
    if (waiting) connection?.once('close', left);
  });
}
