/** Stable error codes for everything the sidecar can refuse or fail at; tests and logs use these. */
export type GatehouseErrorCode =
  | 'config_invalid'
  | 'config_unreadable'
  | 'bad_request_target'
  | 'bad_host'
  | 'duplicate_host'
  | 'ambiguous_path'
  | 'bad_percent_encoding'
  | 'path_escapes_root'
  | 'unknown_host'
  | 'headers_too_large'
  | 'client_timeout'
  | 'body_too_slow'
  | 'response_read_too_slow'
  | 'request_deadline'
  | 'connect_not_supported'
  | 'trace_not_supported'
  | 'pipelining_limit'
  | 'bad_request'
  | 'upgrade_not_supported'
  | 'expectation_failed'
  | 'transfer_coding_not_supported'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_busy'
  | 'tunnel_limit'
  | 'upstream_error'
  | 'upstream_headers_too_large'
  | 'shutting_down'
  | 'not_ready'
  | 'access_denied'
  | 'authentication_required'
  | 'fresh_sign_in_required'
  | 'policy_changed'
  | 'session_revoked'
  | 'credential_expired'
  | 'credential_revoked'
  | 'invalid_credentials'
  | 'login_failed'
  | 'provider_unavailable'
  | 'not_found'
  | 'method_not_allowed'
  | 'cross_site_request';

/** A failure that is answered over HTTP: a status and a public message; detail stays in the log. */
export class HttpError extends Error {
  readonly code: GatehouseErrorCode;
  readonly status: number;
  readonly publicMessage: string;
  /** Extra response headers, e.g. WWW-Authenticate on a 401. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: GatehouseErrorCode,
    status: number,
    publicMessage: string,
    detail?: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? publicMessage);
    this.name = 'HttpError';
    this.code = code;
    this.status = status;
    this.publicMessage = publicMessage;
    this.headers = headers;
  }
}

/** One problem in a configuration, located by file, document and field path. */
export interface FieldError {
  /** Where: `app.yaml#2 spec.upstream.url` style location (`list.yaml#1.items[3] spec` in a List), without the message. */
  readonly path: string;
  readonly message: string;
  /** Line and column (1-based) in the file, when the error is about a field of a YAML document. */
  readonly position?: { readonly line: number; readonly column: number };
}

/** `app.yaml:12:5 spec.hosts[0]` for an error with a position, else its path as it is (`app.yaml#2 spec.hosts[0]`). */
export function locatedPath(error: FieldError): string {
  if (!error.position) return error.path;
  const { line, column } = error.position;
  return error.path.replace(/^(\S+)#\d+(?:\.items\[\d+\])?/, `$1:${line}:${column}`);
}

/** Orders errors as a person reads the files: by file, then line and column; those without a position last. */
export function byPlace(a: FieldError, b: FieldError): number {
  const file = (e: FieldError) => /^[^\s#:]+/.exec(e.path)?.[0] ?? '';
  return (
    file(a).localeCompare(file(b)) ||
    (a.position?.line ?? Number.MAX_SAFE_INTEGER) - (b.position?.line ?? Number.MAX_SAFE_INTEGER) ||
    (a.position?.column ?? 0) - (b.position?.column ?? 0)
  );
}

/** What a person reads about an invalid configuration: a count, then every error at its place, in file order. */
export function configErrorReport(errors: readonly FieldError[]): string {
  const lines = [...errors].sort(byPlace).map((e) => `  ${locatedPath(e)}: ${e.message}\n`);
  return `gatehouse: configuration is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${lines.join('')}`;
}

/** A configuration that cannot be used; carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code: 'config_invalid' | 'config_unreadable';
  readonly errors: readonly FieldError[];

  constructor(code: 'config_invalid' | 'config_unreadable', errors: readonly FieldError[]) {
    super(errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
    this.name = 'ConfigError';
    this.code = code;
    this.errors = errors;
  }
}
