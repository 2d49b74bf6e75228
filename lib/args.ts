import { parseDurationMs } from './duration.ts';

/** The host of a listener on every address of the host, IPv6 and IPv4. */
export const EVERY_ADDRESS = '';

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Parses `host:port`, `[::1]:port`, or `:port` and a bare port: every address, host `''` (IPv6 and
 * IPv4 where the host has IPv6, IPv4 alone where it has none; see `listenOn`).
 */
export function parseListen(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]*)):([0-9]{1,5})$/.exec(text) ?? /^()()([0-9]{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`${flag}: expected host:port or port (got ${JSON.stringify(text)})`);
  return { host: m[1] || m[2] || EVERY_ADDRESS, port };
}

/** Parses a duration flag such as `25s`. */
export function parseDurationFlag(text: string, flag: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw new UsageError(
      `${flag}: expected a duration such as 500ms, 10s or 1m (got ${JSON.stringify(text)})`,
    );
  return ms;
}

/** Parses a positive integer flag within bounds. */
export function parseIntegerFlag(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max)
    throw new UsageError(`${flag}: expected an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  return n;
}

/** Parses a fraction flag in (0, 1], such as `0.5`. */
export function parseFractionFlag(text: string, flag: string): number {
  const n = Number(text);
  if (!/^[0-9]*\.?[0-9]+$/.test(text) || !(n > 0 && n <= 1))
    throw new UsageError(
      `${flag}: expected a fraction above 0 and at most 1, such as 0.5 (got ${JSON.stringify(text)})`,
    );
  return n;
}
