import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATEHOUSE_BIN } from './sidecar-process.ts';

/** What the planted defect throws on SIGUSR2, and rejects with on SIGWINCH. */
export const PLANTED_THROW = 'planted defect';
export const PLANTED_REJECTION = 'planted rejection';
/** What the rejection quotes besides: a credential, which the log line must not carry. */
export const PLANTED_CREDENTIAL = 'Bearer planted-credential-value';
/** How the log line carries the rejection: its credential replaced. */
export const PLANTED_REJECTION_LOGGED = `TypeError: ${PLANTED_REJECTION} Bearer [credential]`;

/**
 * The node arguments of the built sidecar with a defect planted by a module loaded before it
 * (`--import`): on SIGUSR2 it throws outside every handler, on SIGWINCH it rejects a promise
 * nobody handles. For startSidecarProcess's `command`.
 */
export function sidecarWithPlantedDefect(quoted = ''): string[] {
  return [...plantedDefect(quoted), GATEHOUSE_BIN];
}

/**
 * The Node.js arguments that plant the defect (`--import` of a module that does it). `quoted` is
 * text the thrown error's message ends with (a secret of the config, say).
 */
export function plantedDefect(quoted = ''): string[] {
  const planted = join(mkdtempSync(join(tmpdir(), 'gatehouse-defect-')), 'planted-defect.mjs');
  const thrown = JSON.stringify(quoted === '' ? PLANTED_THROW : `${PLANTED_THROW} ${quoted}`);
  writeFileSync(
    planted,
    [
      `process.on('SIGUSR2', () => setImmediate(() => { throw new Error(${thrown}); }));`,
      `process.on('SIGWINCH', () => { Promise.reject(new TypeError('${PLANTED_REJECTION} ${PLANTED_CREDENTIAL}')); });`,
      '',
    ].join('\n'),
  );
  return ['--import', planted];
}
