import { createHash } from 'node:crypto';
import { STREAM_AUDIENCE } from '../../../contract/config-stream.ts';
import { APPLICATION_KEY } from '../../../contract/injection.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import { TOKEN_REVIEWS } from '../../../lib/kube/resource-types.ts';

const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
/**
 * How long a TokenReview answer is trusted, on every replica: a new stream within it is not
 * reviewed again, and an open stream is reviewed again after it (a Pod's deletion ends its
 * streams at once, through the Pod cache, whatever this bound).
 */
export const REVIEW_BOUND_MS = 60_000;
const CACHE_MAX = 10_000;

/** Why a sidecar was refused its config; stable codes for the metric and the response body. */
export type RefusalReason =
  | 'missing_token'
  | 'token_invalid'
  | 'not_a_pod_token'
  | 'pod_not_found'
  | 'pod_mismatch'
  | 'no_application_label'
  | 'application_mismatch'
  | 'review_failed'
  /** Every place for reviews was taken, in all or by the client's address. */
  | 'busy'
  /** The Pod opened more streams than STREAM_OPEN_RATE allows. */
  | 'too_many_streams';

export class StreamRefusal extends Error {
  readonly reason: RefusalReason;
  readonly status: number;
  /** When to try again (the Retry-After header), for refusals that pass. */
  readonly retryAfterSeconds: number | undefined;
  constructor(reason: RefusalReason, status: number, message: string, retryAfterSeconds?: number) {
    super(message);
    this.reason = reason;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The application a verified sidecar may read, the pod it runs in, and when its token expires. */
export interface SidecarIdentity {
  readonly namespace: string;
  readonly application: string;
  readonly pod: string;
  readonly podUid: string;
  /** Epoch ms of the token's `exp`; undefined when the token carries none. */
  readonly expiresAt: number | undefined;
}

/** The Pods sidecars run in, as the operator's cache holds them. */
export interface PodLookup {
  readonly synced: Promise<void>;
  get(key: string): KubeObject | undefined;
}

/** What a TokenReview said about a token, kept for the review bound. */
interface Review {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly pod: string;
  readonly podUid: string;
  readonly expiresAt: number | undefined;
  readonly until: number;
}

/** The claims of a JWT (three parts, a JSON object in the second), read without verifying it. */
function unverifiedClaims(token: string): { aud?: unknown; exp?: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` of a JWT in ms, read without verifying (the TokenReview did); undefined when absent. */
export function tokenExpiry(token: string): number | undefined {
  const exp = unverifiedClaims(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

/**
 * Why a bearer token cannot be a projected ServiceAccount token for the stream, read without
 * verifying it; undefined when it may be one (the TokenReview decides). Every review is a call to
 * the API server: a client sending random strings made one each, and held the operator's places
 * for reviews meanwhile.
 */
export function tokenShapeProblem(token: string, nowMs: number): string | undefined {
  const claims = unverifiedClaims(token);
  if (claims === undefined) return 'not a JWT';
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(STREAM_AUDIENCE)) return `not for audience ${STREAM_AUDIENCE}`;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) return 'expired or without exp';
  return undefined;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

/**
 * Verifies a sidecar's projected ServiceAccount token with TokenReview (audience `gatehouse`, so a
 * token minted for anything else is refused), then maps it to an application: the token must be
 * bound to a live Pod of that ServiceAccount, and the Pod's `gatehouse.dev/application` label names
 * an AccessApplication in the Pod's namespace. TokenReview answers are cached by token hash for
 * the review bound (and never past the token's expiry); the Pod is checked on every call against
 * the operator's Pod cache, so a deleted Pod's token is refused at once on every replica.
 */
export function createSidecarVerifier(client: KubeClient, pods: PodLookup, reviewBoundMs = REVIEW_BOUND_MS) {
  const cache = boundedCache<string, Review>(CACHE_MAX);

  const review = async (token: string, now: number): Promise<Review> => {
    let status: TokenReviewStatus;
    try {
      const answer = await client.create<{ status?: TokenReviewStatus }>(TOKEN_REVIEWS, undefined, {
        metadata: {},
        spec: { token, audiences: [STREAM_AUDIENCE] },
      });
      status = answer.status ?? {};
    } catch (error) {
      throw new StreamRefusal('review_failed', 503, `TokenReview failed: ${(error as Error).message}`);
    }
    if (!status.authenticated || !(status.audiences ?? []).includes(STREAM_AUDIENCE)) {
      throw new StreamRefusal(
        'token_invalid',
        401,
        `token refused: ${status.error ?? 'not valid for audience gatehouse'}`,
      );
    }
    const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(status.user?.username ?? '');
    const pod = status.user?.extra?.[POD_NAME_EXTRA]?.[0];
    const podUid = status.user?.extra?.[POD_UID_EXTRA]?.[0];
    if (!match || !pod || !podUid) {
      throw new StreamRefusal(
        'not_a_pod_token',
        403,
        'the token must be a ServiceAccount token bound to a Pod',
      );
    }
    const expiresAt = tokenExpiry(token);
    return {
      namespace: match[1] as string,
      serviceAccount: match[2] as string,
      pod,
      podUid,
      expiresAt,
      until: Math.min(now + reviewBoundMs, expiresAt ?? Number.POSITIVE_INFINITY),
    };
  };

  return async function verify(token: string | undefined): Promise<SidecarIdentity> {
    if (!token)
      throw new StreamRefusal(
        'missing_token',
        401,
        'a bearer token (projected ServiceAccount token, audience gatehouse) is required',
      );
    const digest = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    let reviewed = cache.get(digest);
    if (!reviewed || reviewed.until <= now) {
      const shape = tokenShapeProblem(token, now);
      if (shape) throw new StreamRefusal('token_invalid', 401, `token refused: ${shape}`);
      reviewed = await review(token, now);
      cache.set(digest, reviewed);
    }
    const { namespace, pod: podName, podUid, serviceAccount } = reviewed;
    await pods.synced;
    // Only the cache: a Pod it has not seen yet is refused, and its sidecar retries within 2 s.
    const pod = pods.get(`${namespace}/${podName}`);
    if (!pod) throw new StreamRefusal('pod_not_found', 403, `pod ${namespace}/${podName} does not exist`);
    const spec = pod.spec as { serviceAccountName?: string } | undefined;
    if (pod.metadata.uid !== podUid || (spec?.serviceAccountName ?? 'default') !== serviceAccount) {
      throw new StreamRefusal(
        'pod_mismatch',
        403,
        `the token is not bound to the current pod ${namespace}/${podName}`,
      );
    }
    const application = pod.metadata.labels?.[APPLICATION_KEY];
    if (!application)
      throw new StreamRefusal(
        'no_application_label',
        403,
        `pod ${namespace}/${podName} has no ${APPLICATION_KEY} label`,
      );
    return { namespace, application, pod: podName, podUid, expiresAt: reviewed.expiresAt };
  };
}

export type SidecarVerifier = ReturnType<typeof createSidecarVerifier>;
