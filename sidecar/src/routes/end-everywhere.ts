import type { SessionEnd } from '../../../contract/session-ends.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import type { RequestScope } from '../request-scope.ts';

/**
 * Ends sessions here at once and, through the operator or the shared revocations directory, in
 * every other sidecar of the application (a sign-out, a logout from the provider), for as long as
 * a session it covers may live. `account` (sessionEndAccount) is whose sessions they are, when known.
 */
export function endEverywhere(
  scope: RequestScope,
  auth: AuthRuntime,
  end: SessionEnd,
  account: string | undefined,
): void {
  scope.state.sessionEnds?.end(end, scope.state.appKey, auth.settings.session.absoluteMs, account);
}
