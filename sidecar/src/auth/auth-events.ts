import { type AuthEventType, logEvent } from '../../../contract/log-events.ts';
import { capField } from '../../../lib/log/sanitize.ts';
import type { RequestScope } from '../request-scope.ts';

/**
 * Writes an auth event in the request stream: the event fields plus who and where (app, request
 * id, client IP, user agent). Callers pass allowlisted fields only; never tokens or secrets.
 */
export function authEvent(scope: RequestScope, type: AuthEventType, fields: Record<string, unknown>): void {
  const ua = scope.req.headers['user-agent'];
  logEvent(scope.sink, type, {
    app: scope.state.appLabel,
    requestId: scope.requestId,
    clientIp: scope.clientIp,
    userAgent: typeof ua === 'string' ? capField(ua, 1024) : null,
    ...fields,
  });
}
