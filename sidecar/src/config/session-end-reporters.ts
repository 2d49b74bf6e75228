import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  ACCOUNT_SESSION_ENDS_FULL,
  accountSessionEndsFull,
  SESSION_END_ACCOUNT_HEADER,
  SESSION_END_ACCOUNT_LABEL,
  SESSION_ENDS_PATH,
  SESSION_ENDS_PER_ACCOUNT,
  SESSION_ENDS_UNTIL,
  type SessionEnd,
  sessionEndRevocationName,
  sessionEndRevocationSpec,
  sessionEndsFull,
} from '../../../contract/session-ends.ts';
import { jitteredBackoff, sleep } from '../../../lib/backoff.ts';
import { errorBodyStart } from '../../../lib/http/error-body.ts';
import { Agent, requestOn } from '../../../lib/http/undici-core.ts';
import { ReportFailed, type ReportOutcome, type SessionEndReporter } from '../auth/session-ends.ts';

const ATTEMPTS = 6;
const BACKOFF = { baseMs: 100, maxMs: 2_000 } as const;

/**
 * In a cluster: the sidecar posts the end to the operator with its pod token (as for the config
 * stream); the operator writes an AccessRevocation for the application, which reaches every
 * sidecar of it like any revocation. One round tries a post six times, at most 3 s of waits
 * apart in all; the session ends run further rounds while the end matters.
 */
export function operatorReporter(options: {
  readonly url: string;
  readonly ca: string | Buffer;
  readonly tokenFile: string;
}): SessionEndReporter {
  const dispatcher = new Agent({ connect: { ca: options.ca }, keepAliveTimeout: 10_000 });
  return {
    async report(end, _application, account): Promise<ReportOutcome> {
      let last: unknown;
      let refused = false;
      let accountFull = false;
      const errors: string[] = [];
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          const response = await requestOn(dispatcher, new URL(SESSION_ENDS_PATH, options.url), {
            method: 'POST',
            headers: {
              authorization: `Bearer ${readFileSync(options.tokenFile, 'utf8').trim()}`,
              'content-type': 'application/json',
              ...(account !== undefined ? { [SESSION_END_ACCOUNT_HEADER]: account } : {}),
            },
            body: JSON.stringify(end),
            headersTimeout: 5_000,
            bodyTimeout: 5_000,
          });
          if (response.statusCode === 201) {
            await response.body.dump();
            return { attempts: attempt + 1, errors };
          }
          const text = await errorBodyStart(response.body as Readable);
          last = new Error(`operator answered ${response.statusCode}: ${text}`);
          refused = response.statusCode < 500 && response.statusCode !== 429;
          accountFull =
            response.statusCode === 409 && text.includes(`"error":"${ACCOUNT_SESSION_ENDS_FULL}"`);
        } catch (error) {
          last = error;
        }
        errors.push(last instanceof Error ? last.message : String(last));
        if (refused) break; // retrying will not help
        if (attempt < ATTEMPTS - 1) await sleep(jitteredBackoff(attempt, BACKOFF));
      }
      const message = last instanceof Error ? last.message : String(last);
      throw new ReportFailed(message, errors.length, errors, refused, accountFull);
    },
  };
}

/**
 * Standalone: the end becomes an AccessRevocation file in the directory the replicas share
 * (`--revocations-dir`); each replica reloads it within its poll interval, or at once through
 * file-change notification on a local filesystem.
 */
export function directoryReporter(
  directory: string,
  lifetimeMs: () => number,
  /** The revocations that cover the application now (those in force in this sidecar). */
  covering: () => number,
  /** Of those, the session ends that name this account (SESSION_END_ACCOUNT_LABEL). */
  coveringAccount: (account: string) => number,
): SessionEndReporter {
  return {
    async report(end: SessionEnd, application: string, account?: string): Promise<ReportOutcome> {
      // As the operator does: past the bound the end holds here only, and every replica goes on
      // taking configs and revocations (a config of more than a sidecar takes is refused whole).
      if (covering() >= SESSION_ENDS_UNTIL) {
        const full = sessionEndsFull(application, 'this sidecar');
        throw new ReportFailed(full, 1, [full], true);
      }
      if (account !== undefined && coveringAccount(account) >= SESSION_ENDS_PER_ACCOUNT) {
        const full = accountSessionEndsFull(application, 'this sidecar');
        throw new ReportFailed(full, 1, [full], true, true);
      }
      // The YAML writer loads with the first end, so a cluster sidecar, which never writes one, never loads it.
      const { writeRevocationFile } = await import('../../../contract/revocation-files.ts');
      const expires = new Date(end.before * 1000 + lifetimeMs());
      writeRevocationFile(
        directory,
        sessionEndRevocationSpec(end, application),
        expires,
        { name: sessionEndRevocationName(end, application) },
        account === undefined ? undefined : { [SESSION_END_ACCOUNT_LABEL]: account },
      );
      return { attempts: 1, errors: [] };
    },
  };
}
