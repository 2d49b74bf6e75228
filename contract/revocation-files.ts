import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { API_VERSION } from './api/schema-helpers.ts';

/*
 * The shared revocations directory of standalone sidecars (`--revocations-dir`): one
 * AccessRevocation per YAML file, written by `gatehouse revoke --revocations-dir` and by the
 * sidecars themselves (sign-outs, logouts from the provider), read by every replica with its config.
 */

/** A revocation file's expiry, as its writer noted it; undefined when it carries none. */
function expiresAt(text: string): number | undefined {
  const match = /^# expires (\S+)$/m.exec(text);
  const at = match ? Date.parse(match[1] as string) : Number.NaN;
  return Number.isNaN(at) ? undefined : at;
}

/**
 * Writes an AccessRevocation as a YAML file into a directory every replica reads (atomically:
 * a temporary file, then a rename), and deletes the files there whose noted expiry has passed.
 * Named `<prefix>-<random>`, or `name` when given: the same name written again replaces the
 * file (a session end sent again).
 */
export function writeRevocationFile(
  directory: string,
  spec: Record<string, unknown>,
  expires: Date,
  naming: { readonly prefix: string } | { readonly name: string } = { prefix: 'revocation' },
  /** Labels of the AccessRevocation (a session end's account). */
  labels?: Readonly<Record<string, string>>,
): string {
  const name = 'name' in naming ? naming.name : `${naming.prefix}-${randomBytes(5).toString('hex')}`;
  const metadata = labels === undefined ? { name } : { name, labels };
  const document = { apiVersion: API_VERSION, kind: 'AccessRevocation', metadata, spec };
  const text = `# Written by Gatehouse; deleted after it expires.\n# expires ${expires.toISOString()}\n${stringify(document)}`;
  // A name no other writer knows, created afresh (O_EXCL): a named pipe planted at a predictable
  // temporary path would otherwise be opened and block this write, and the sidecar, for ever.
  const temporary = join(directory, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temporary, text, { mode: 0o644, flag: 'wx' });
  renameSync(temporary, join(directory, `${name}.yaml`));
  pruneRevocationFiles(directory);
  return name;
}

/** How often one process looks through a directory for expired files (each write may ask). */
export const PRUNE_EVERY_MS = 60_000;
const lastPruned = new Map<string, number>();

/**
 * Deletes the revocation files of a directory whose noted expiry has passed; others are left
 * alone. At most once a minute per directory in a process: it looks at every file, and each
 * sign-out of a replica asked for it (with 8,000 files, 60 ms of a stalled event loop each).
 * Only the head of each regular file is read, where the expiry is noted: a file copied in by
 * mistake is not read whole, and a named pipe is not waited on (before, the next sign-out of
 * every replica blocked on it for ever).
 */
export function pruneRevocationFiles(directory: string, now = Date.now()): number {
  if (now - (lastPruned.get(directory) ?? Number.NEGATIVE_INFINITY) < PRUNE_EVERY_MS) return 0;
  lastPruned.set(directory, now);
  let pruned = 0;
  for (const file of readdirSync(directory)) {
    if (!file.endsWith('.yaml')) continue;
    try {
      const at = expiresAt(headOf(join(directory, file)));
      if (at !== undefined && at <= now) {
        unlinkSync(join(directory, file));
        pruned++;
      }
    } catch {
      // Deleted meanwhile by another replica, or unreadable: not ours to judge.
    }
  }
  return pruned;
}

/** Where a revocation file notes its expiry: its first lines. */
const HEAD_BYTES = 512;

/** The first bytes of a regular file ('' for anything else); opened without waiting on a pipe. */
function headOf(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return '';
    const buffer = Buffer.alloc(HEAD_BYTES);
    return buffer.toString('utf8', 0, readSync(fd, buffer, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}
