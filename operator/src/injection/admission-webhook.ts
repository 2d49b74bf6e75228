import type { IncomingMessage, ServerResponse } from 'node:http';
import { APPLICATION_KEY } from '../../../contract/injection.ts';
import type { BodyHold } from '../../../lib/body-budget.ts';
import { type JsonShapeLimits, jsonShapeProblem } from '../../../lib/json-shape.ts';
import { readBody, sendJson } from '../delivery/json-response.ts';
import type { OperatorMetrics } from '../operator-metrics.ts';
import { type InjectionContext, injectPod } from './inject-pod.ts';
import { type PodLike, podPatch } from './pod-shape.ts';

export const INJECT_PATH = '/v1/inject';
/** The API server sends at most ~3 MiB objects; anything larger is not an AdmissionReview. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * What a review may build when parsed. A Pod's spec nests about 15 deep and holds a few thousand
 * arrays and objects at most (its managed fields included); a body of 8 MiB could otherwise build
 * hundreds of MiB (see jsonShapeProblem), from any pod that can reach the port.
 */
const REVIEW_SHAPE: JsonShapeLimits = { maxDepth: 100, maxContainers: 100_000 };

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
  readonly log: (type: string, fields: Record<string, unknown>) => void;
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

/**
 * POST /v1/inject: the mutating admission webhook (AdmissionReview v1). A labelled Pod gets the
 * sidecar as a JSON Patch; a Pod that cannot be injected is refused with a message that says
 * why, rather than started without the gateway in front of it.
 */
export function createAdmissionWebhook(options: AdmissionWebhookOptions) {
  return async (req: IncomingMessage, res: ServerResponse, hold: BodyHold): Promise<void> => {
    const body = await readBody(req, res, MAX_BODY_BYTES, hold);
    if (body === undefined) return;
    let review: { apiVersion?: string; kind?: string; request?: AdmissionRequest };
    const shape = jsonShapeProblem(body, REVIEW_SHAPE);
    if (shape) return sendJson(res, 400, { error: 'invalid', message: `the body is ${shape}` });
    try {
      review = JSON.parse(body) as typeof review;
    } catch {
      return sendJson(res, 400, { error: 'invalid', message: 'the body is not JSON' });
    }
    const request = review.request;
    if (review.kind !== 'AdmissionReview' || typeof request?.uid !== 'string')
      return sendJson(res, 400, {
        error: 'invalid',
        message: 'expected an admission.k8s.io/v1 AdmissionReview',
      });
    sendJson(res, 200, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: admit(request, options),
    });
  };
}
