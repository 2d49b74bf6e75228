import type { IncomingMessage, ServerResponse } from 'node:http';
import { APPLICATION_KEY } from '../../../contract/injection.ts';
import type { BodyHold } from '../../../lib/body-budget.ts';
import { parseDurationMs } from '../../../lib/duration.ts';
import { FairTurns } from '../../../lib/fair-turns.ts';
import { type JsonShapeLimits, jsonShapeProblem } from '../../../lib/json-shape.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { readBody, sendJson } from '../delivery/json-response.ts';
import type { OperatorLog } from '../operator-log.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { type InjectionContext, injectPod } from './inject-pod.ts';
import { type PodLike, podPatch } from './pod-shape.ts';

export const INJECT_PATH = '/v1/inject';
/** The API server sends at most ~3 MiB objects; anything larger is not an AdmissionReview. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * What a review may build when parsed. A Pod's spec nests about 15 deep and holds a few thousand
 * arrays, objects and members at most (its managed fields included); a body of 8 MiB could
 * otherwise build hundreds of MiB, or take most of a second to parse (see jsonShapeProblem), from
 * any pod that can reach the port.
 */
const REVIEW_SHAPE: JsonShapeLimits = { maxDepth: 100, maxContainers: 100_000, maxMembers: 100_000 };
/**
 * Reviews waiting for their turn on the thread, from all clients; more are answered 503 at once.
 * Their bodies are also held to the port's body budget.
 */
export const MAX_WAITING_REVIEWS = 4_096;
/**
 * How long a review waits for its turn when the API server does not say (`?timeout=`): its
 * default webhook timeout (admissionregistration.k8s.io/v1). It never says more than 30 s.
 */
export const DEFAULT_REVIEW_WAIT_MS = 10_000;
const MAX_REVIEW_WAIT_MS = 30_000;

/** The API server's wait for this call, from its `?timeout=10s` query parameter (a Go duration), within 1 to 30 s. */
export function reviewWaitMs(url: string | undefined): number {
  const timeout = new URL(url ?? '/', 'https://operator.invalid').searchParams.get('timeout');
  const ms = timeout === null ? undefined : parseDurationMs(timeout);
  if (ms === undefined) return DEFAULT_REVIEW_WAIT_MS;
  return Math.min(MAX_REVIEW_WAIT_MS, Math.max(1_000, ms));
}

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  dryRun?: boolean;
  object?: PodLike;
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  status?: { code: number; reason: string; message: string };
}

export interface AdmissionWebhookOptions {
  /** The injection context now; undefined while the operator has no CA bundle to give sidecars. */
  readonly context: () => InjectionContext | undefined;
  readonly metrics: OperatorMetrics;
  readonly log: OperatorLog;
}

/** The decision for one AdmissionReview request about a Pod. */
export function admit(request: AdmissionRequest, options: AdmissionWebhookOptions): AdmissionResponse {
  const base = { uid: request.uid };
  const isPodCreate =
    request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '' && request.operation === 'CREATE';
  if (!isPodCreate || !request.object) return { ...base, allowed: true };
  const context = options.context();
  const pod = request.object;
  const where = {
    namespace: request.namespace ?? pod.metadata?.namespace ?? '',
    pod: pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`,
    dryRun: request.dryRun === true,
  };
  if (!context) {
    options.metrics.injections.inc({ result: 'refused' });
    options.log('injection_refused', { ...where, code: 'not_ready' });
    return {
      ...base,
      allowed: false,
      status: {
        code: 503,
        reason: 'ServiceUnavailable',
        message: 'gatehouse: the operator has no serving CA yet',
      },
    };
  }
  const result = injectPod(pod, context);
  options.metrics.injections.inc({ result: result.kind });
  if (result.kind === 'skipped') return { ...base, allowed: true };
  if (result.kind === 'refused') {
    options.log('injection_refused', { ...where, code: result.code, message: result.message });
    return {
      ...base,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: `gatehouse: ${result.message}` },
    };
  }
  const patch = podPatch(pod, result.pod);
  options.log('pod_injected', {
    ...where,
    application: result.pod.metadata?.labels?.[APPLICATION_KEY],
    native: context.nativeSidecar,
  });
  return {
    ...base,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    ...(result.warnings.length > 0 ? { warnings: [...result.warnings] } : {}),
  };
}

/** The request of an AdmissionReview body, or why the body is not one. */
function parseReview(body: string): { request: AdmissionRequest } | { invalid: string } {
  const shape = jsonShapeProblem(body, REVIEW_SHAPE);
  if (shape) return { invalid: `the body is ${shape}` };
  let review: { apiVersion?: string; kind?: string; request?: AdmissionRequest };
  try {
    review = JSON.parse(body) as typeof review;
  } catch {
    return { invalid: 'the body is not JSON' };
  }
  const request = review.request;
  if (review.kind !== 'AdmissionReview' || typeof request?.uid !== 'string')
    return { invalid: 'expected an admission.k8s.io/v1 AdmissionReview' };
  return { request };
}

/** Parses a review and answers it: the decision, or 400 for a body that is not a review. */
function answerReview(res: ServerResponse, body: string, options: AdmissionWebhookOptions): void {
  const review = parseReview(body);
  if ('invalid' in review) {
    options.metrics.reviewRefusals.inc({ reason: 'invalid' });
    sendJson(res, 400, { error: 'invalid', message: review.invalid });
    return;
  }
  sendJson(res, 200, {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: admit(review.request, options),
  });
}

/**
 * POST /v1/inject: the mutating admission webhook (AdmissionReview v1). A labelled Pod gets the
 * sidecar as a JSON Patch; a Pod that cannot be injected is refused with a message that says
 * why, rather than started without the gateway in front of it.
 *
 * Any pod can reach the port, and parsing is the operator's thread: reviews are parsed and
 * answered one at a time, the event loop turning between two (so config streams, revocations
 * and probes never wait behind a queue of them), and clients by address take turns by the thread
 * time each has had (so the API server's small reviews go before a flood of large ones).
 */
export function createAdmissionWebhook(options: AdmissionWebhookOptions) {
  const turns = new FairTurns({ maxWaiting: MAX_WAITING_REVIEWS }, (waiting) =>
    options.metrics.reviewsWaiting.set(waiting),
  );
  return async (req: IncomingMessage, res: ServerResponse, hold: BodyHold): Promise<void> => {
    const body = await readBody(req, res, MAX_BODY_BYTES, hold);
    if (body === undefined) return;
    const socket = req.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (): void => {
        settled = true;
        socket.off('close', left);
      };
      const left = (): void => {
        settle();
        leave();
        resolve();
      };
      const leave = turns.add(normaliseIp(socket.remoteAddress ?? ''), reviewWaitMs(req.url), {
        run() {
          settle();
          answerReview(res, body, options);
          resolve();
        },
        failed(error) {
          settle();
          reject(error);
        },
        refused(why) {
          settle();
          options.metrics.reviewRefusals.inc({ reason: why });
          res.setHeader('retry-after', '1');
          sendJson(res, 503, {
            error: 'busy',
            message:
              why === 'busy'
                ? 'too many reviews waiting; retry shortly'
                : 'the review waited past its timeout for its turn',
          });
          resolve();
        },
      });
      if (!settled) socket.once('close', left);
    });
  };
}
