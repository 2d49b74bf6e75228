import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { STREAM_AUDIENCE } from '../../../contract/config-stream.ts';
import { APPLICATION_KEY } from '../../../contract/injection.ts';
import type { KubeClient } from '../../../lib/kube/kube-client.ts';
import { PODS, TOKEN_REVIEWS } from '../../../lib/kube/resource-types.ts';

const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const CACHE_MS = 30_000;
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
  | 'review_failed';

export class StreamRefusal extends Error {
  readonly reason: RefusalReason;
  readonly status: number;
  constructor(reason: RefusalReason, status: number, message: string) {
    super(message);
    this.reason = reason;
    this.status = status;
  }
}

/** The application a verified sidecar may read, and the pod it runs in. */
export interface SidecarIdentity {
  readonly namespace: string;
  readonly application: string;
  readonly pod: string;
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
 * an AccessApplication in the Pod's namespace. Results are cached for 30 s by token hash.
 */
export function createSidecarVerifier(client: KubeClient) {
  const cache = new LRUCache<string, { identity: SidecarIdentity; until: number }>({ max: CACHE_MAX });

  return async function verify(token: string | undefined): Promise<SidecarIdentity> {
    if (!token)
      throw new StreamRefusal(
        'missing_token',
        401,
        'a bearer token (projected ServiceAccount token, audience gatehouse) is required',
      );
    const digest = createHash('sha256').update(token).digest('base64url');
    const hit = cache.get(digest);
    if (hit && hit.until > Date.now()) return hit.identity;

    let status: TokenReviewStatus;
    try {
      const review = await client.create<{ status?: TokenReviewStatus }>(TOKEN_REVIEWS, undefined, {
        metadata: {},
        spec: { token, audiences: [STREAM_AUDIENCE] },
      });
      status = review.status ?? {};
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
    const podName = status.user?.extra?.[POD_NAME_EXTRA]?.[0];
    const podUid = status.user?.extra?.[POD_UID_EXTRA]?.[0];
    if (!match || !podName || !podUid) {
      throw new StreamRefusal(
        'not_a_pod_token',
        403,
        'the token must be a ServiceAccount token bound to a Pod',
      );
    }
    const [, namespace = '', serviceAccount = ''] = match;
    const pod = await client.get(PODS, namespace, podName);
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
    const identity: SidecarIdentity = { namespace, application, pod: podName };
    cache.set(digest, { identity, until: Date.now() + CACHE_MS });
    return identity;
  };
}

export type SidecarVerifier = ReturnType<typeof createSidecarVerifier>;
