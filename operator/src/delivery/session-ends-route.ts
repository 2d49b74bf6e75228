import type { IncomingMessage, ServerResponse } from 'node:http';
import { schemaErrors } from '../../../contract/api/validate.ts';
import {
  ACCOUNT_SESSION_ENDS_FULL,
  accountSessionEndsFull,
  SESSION_END_ACCOUNT,
  SESSION_END_ACCOUNT_HEADER,
  SESSION_ENDS_PER_ACCOUNT,
  SESSION_ENDS_UNTIL,
  type SessionEnd,
  SessionEndSchema,
  sessionEndProblem,
  sessionEndsFull,
} from '../../../contract/session-ends.ts';
import type { BodyHold } from '../../../lib/body-budget.ts';
import type { TokenBucketRate, TokenBuckets } from '../../../lib/token-buckets.ts';
import { readBody, sendJson, sendRefusal } from './json-response.ts';
import { type SidecarIdentity, type SidecarVerifier, StreamRefusal } from './sidecar-identity.ts';

const MAX_BODY_BYTES = 4096;
/**
 * Session ends one application may record: a burst of 600, refilled at 10 a second (36,000 an
 * hour, far above real sign-outs). A sidecar (or whoever holds its pod's token) cannot fill the
 * API server with AccessRevocations. Past it, 429 with Retry-After; the sidecar retries, and the
 * end holds in that sidecar meanwhile.
 */
export const SESSION_END_RATE: TokenBucketRate = { burst: 600, perSecond: 10 };

/** What became of a session end a sidecar reported (gatehouse_operator_session_ends_total). */
export type SessionEndOutcome = 'recorded' | 'already' | 'full' | 'account_full' | 'rate_limited' | 'invalid';

/**
 * Records a session end for one application (writes the AccessRevocation); resolves with its name.
 * `receivedAtMs` (performance.now()) is when its request came in, for the timings it logs.
 */
export type RecordSessionEnd = (
  identity: SidecarIdentity,
  end: SessionEnd,
  receivedAtMs: number,
  /** Whose session it was (SESSION_END_ACCOUNT_HEADER), when the sidecar said. */
  account?: string,
) => Promise<string>;

/**
 * POST /v1/session-ends: a sidecar reports a session it ended (a sign-out, a logout from the provider)
 * so that every sidecar of its application ends it too. The caller is verified exactly as for the
 * config stream, and can only end sessions of its own application.
 */
export async function sessionEndsRoute(
  req: IncomingMessage,
  res: ServerResponse,
  options: {
    readonly verify: SidecarVerifier;
    readonly record: RecordSessionEnd;
    /** Session ends recorded per application (SESSION_END_RATE). */
    readonly budget: TokenBuckets;
    /** AccessRevocations that cover the application now. */
    readonly covering: (application: string) => number;
    /** Session ends in force for the application that name this account (SESSION_ENDS_PER_ACCOUNT). */
    readonly coveringAccount?: (application: string, account: string) => number;
    /**
     * The name of this end's AccessRevocation when it exists already (the operator's cache): sent
     * again (its answer lost, or by the sidecar's next start), it is answered with it at once,
     * with no write and past the bound and the rate, which are for new AccessRevocations.
     */
    readonly recorded?: (application: string, end: SessionEnd) => string | undefined;
    /** What the request's body may take of the port's budget for bodies. */
    readonly hold: BodyHold;
    /** Told what became of each end read (not of a caller refused before its body). */
    readonly counted?: (outcome: SessionEndOutcome) => void;
  },
): Promise<void> {
  const counted = options.counted ?? (() => undefined);
  const receivedAtMs = performance.now();
  const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  let identity: SidecarIdentity;
  try {
    identity = await options.verify(token);
  } catch (error) {
    if (!(error instanceof StreamRefusal)) throw error;
    return sendRefusal(res, error);
  }
  const body = await readBody(req, res, MAX_BODY_BYTES, options.hold);
  if (body === undefined) return;
  let end: unknown;
  try {
    end = JSON.parse(body);
  } catch {
    counted('invalid');
    return sendJson(res, 400, { error: 'invalid', message: 'the body is not JSON' });
  }
  const problems = schemaErrors(SessionEndSchema, end, 'body');
  const problem =
    problems.length > 0
      ? problems.map((p) => `${p.path}: ${p.message}`).join('; ')
      : sessionEndProblem(end as SessionEnd);
  const named = req.headers[SESSION_END_ACCOUNT_HEADER];
  const account = typeof named === 'string' && SESSION_END_ACCOUNT.test(named) ? named : undefined;
  const invalid =
    problem ??
    (named !== undefined && account === undefined
      ? `${SESSION_END_ACCOUNT_HEADER}: one value of 32 lower-case hex digits`
      : undefined);
  if (invalid !== undefined) {
    counted('invalid');
    return sendJson(res, 400, { error: 'invalid', message: invalid });
  }
  const application = `${identity.namespace}/${identity.application}`;
  const recorded = options.recorded?.(application, end as SessionEnd);
  if (recorded !== undefined) {
    counted('already');
    return sendJson(res, 201, { revocation: recorded });
  }
  if (options.covering(application) >= SESSION_ENDS_UNTIL) {
    counted('full');
    return sendJson(res, 409, {
      error: 'session_ends_full',
      message: sessionEndsFull(application, 'the sidecar that sent it'),
    });
  }
  if (
    account !== undefined &&
    (options.coveringAccount?.(application, account) ?? 0) >= SESSION_ENDS_PER_ACCOUNT
  ) {
    counted('account_full');
    return sendJson(res, 409, {
      error: ACCOUNT_SESSION_ENDS_FULL,
      message: accountSessionEndsFull(application, 'the sidecar that sent it'),
    });
  }
  const retryAfter = options.budget.take(application);
  if (retryAfter > 0) {
    counted('rate_limited');
    res.setHeader('retry-after', String(retryAfter));
    return sendJson(res, 429, {
      error: 'too_many_session_ends',
      message: `at most ${SESSION_END_RATE.perSecond} a second per application`,
    });
  }
  const name = await options.record(identity, end as SessionEnd, receivedAtMs, account);
  counted('recorded');
  sendJson(res, 201, { revocation: name });
}
