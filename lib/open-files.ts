import { readFileSync } from 'node:fs';

/**
 * The process's limit on open files (Linux: the soft "Max open files" of /proc/self/limits, which
 * Node.js raises to the hard limit as it starts); undefined when unlimited or unreadable.
 */
export function openFileLimit(path = '/proc/self/limits'): number | undefined {
  try {
    const soft = /^Max open files\s+(\S+)/m.exec(readFileSync(path, 'utf8'))?.[1];
    const value = Number(soft);
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * File descriptors kept for everything but client connections: upstream connections, the admin
 * port's (256 at most), the operator's stream, identity providers, the log, the process's own
 * files. A quarter of the limit when that is less.
 */
export const RESERVED_FILES = 1024;

/**
 * The client connections a process may hold without running out of file descriptors for the rest:
 * `requested`, or the limit less what is kept for the rest when that is lower (never under 16).
 */
export function connectionsWithinOpenFiles(requested: number, limit: number | undefined): number {
  if (limit === undefined) return requested;
  const reserved = Math.min(RESERVED_FILES, Math.floor(limit / 4));
  return Math.max(16, Math.min(requested, limit - reserved));
}
