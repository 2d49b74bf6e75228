/** Stable codes for failures talking to the Kubernetes API; callers branch on these, never on messages. */
export type KubeErrorCode =
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'too_many_requests'
  | 'unavailable'
  | 'stalled'
  | 'unexpected';

/** A failed Kubernetes API call: the code, the HTTP status (0 when no answer came) and the API's message. */
export class KubeApiError extends Error {
  readonly code: KubeErrorCode;
  readonly status: number;

  constructor(code: KubeErrorCode, status: number, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.status = status;
  }
}

const BY_STATUS: Record<number, KubeErrorCode> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
  422: 'invalid',
  429: 'too_many_requests',
  500: 'unavailable',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

/** Maps an HTTP answer of the API server (a metav1.Status body when it has one) to a KubeApiError. */
export function kubeErrorFromResponse(status: number, body: string, what: string): KubeApiError {
  let message = body.slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status object; keep the raw text
  }
  return new KubeApiError(BY_STATUS[status] ?? 'unexpected', status, `${what}: ${status} ${message}`);
}

/** Why a kubeconfig cannot be used; each comes with a one-line message that says what to do. */
export type KubeconfigErrorCode =
  | 'kubeconfig_invalid'
  | 'credential_plugin_unsupported'
  | 'credential_plugin_failed'
  | 'credential_plugin_not_found';

/** A kubeconfig (or its credential plugin) that cannot give a connection: stable code, one-line message. */
export class KubeconfigError extends Error {
  readonly code: KubeconfigErrorCode;

  constructor(code: KubeconfigErrorCode, message: string) {
    super(message);
    this.name = 'KubeconfigError';
    this.code = code;
  }
}
