import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { API_VERSION } from '../../../contract/api/schema-helpers.ts';
import {
  SESSION_ENDS_PATH,
  type SessionEnd,
  sessionEndRevocationSpec,
} from '../../../contract/session-ends.ts';
import { jitteredBackoff, sleep } from '../../../lib/backoff.ts';
import type { SessionEndReporter } from '../auth/session-ends.ts';

const ATTEMPTS = 6;
const BACKOFF = { baseMs: 100, maxMs: 2_000 } as const;

/**
 * In a cluster: the sidecar posts the end to the operator with its pod token (as for the config
 * stream); the operator writes an AccessRevocation for the application, which reaches every
 * sidecar of it like any revocation. A failed post is retried for about ten seconds.
 */
export function operatorReporter(options: {
  readonly url: string;
  readonly ca: string | Buffer;
  readonly tokenFile: string;
}): SessionEndReporter & { close(): Promise<void> } {
  const dispatcher = new Agent({ connect: { ca: options.ca }, keepAliveTimeout: 10_000 });
  return {
    kind: 'operator',
    async report(end) {
      let last: unknown;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          const response = await request(new URL(SESSION_ENDS_PATH, options.url), {
            method: 'POST',
            dispatcher,
            headers: {
              authorization: `Bearer ${readFileSync(options.tokenFile, 'utf8').trim()}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify(end),
            headersTimeout: 5_000,
            bodyTimeout: 5_000,
          });
          const text = (await response.body.text()).slice(0, 300);
          if (response.statusCode === 201) return;
          last = new Error(`operator answered ${response.statusCode}: ${text}`);
          if (response.statusCode < 500 && response.statusCode !== 429) break; // refused: retrying will not help
        } catch (error) {
          last = error;
        }
        await sleep(jitteredBackoff(attempt, BACKOFF));
      }
      throw last;
    },
    close: () => dispatcher.close(),
  };
}

/** A revocation file's expiry, as its writer noted it; undefined when it carries none. */
function expiresAt(text: string): number | undefined {
  const match = /^# expires (\S+)$/m.exec(text);
  const at = match ? Date.parse(match[1] as string) : Number.NaN;
  return Number.isNaN(at) ? undefined : at;
}

/**
 * Writes an AccessRevocation as a YAML file into a directory every replica reads (atomically:
 * a temporary file, then a rename), and deletes the files there whose noted expiry has passed.
 */
export function writeRevocationFile(
  directory: string,
  spec: Record<string, unknown>,
  expires: Date,
  prefix = 'revocation',
): string {
  const name = `${prefix}-${randomBytes(5).toString('hex')}`;
  const document = { apiVersion: API_VERSION, kind: 'AccessRevocation', metadata: { name }, spec };
  const text = `# Written by Gatehouse; deleted after it expires.\n# expires ${expires.toISOString()}\n${stringify(document)}`;
  const temporary = join(directory, `.${name}.tmp`);
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, join(directory, `${name}.yaml`));
  pruneRevocationFiles(directory);
  return name;
}

/** Deletes the revocation files of a directory whose noted expiry has passed; others are left alone. */
export function pruneRevocationFiles(directory: string, now = Date.now()): number {
  let pruned = 0;
  for (const file of readdirSync(directory)) {
    if (!file.endsWith('.yaml')) continue;
    try {
      const at = expiresAt(readFileSync(join(directory, file), 'utf8'));
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

/**
 * Standalone: the end becomes an AccessRevocation file in the directory the replicas share
 * (`--revocations-dir`); each replica reloads it within its poll interval, or at once through
 * file-change notification on a local filesystem.
 */
export function directoryReporter(directory: string, lifetimeMs: () => number): SessionEndReporter {
  return {
    kind: 'directory',
    async report(end: SessionEnd, application: string) {
      const expires = new Date(end.before * 1000 + lifetimeMs());
      writeRevocationFile(directory, sessionEndRevocationSpec(end, application), expires, 'session-end');
    },
  };
}
