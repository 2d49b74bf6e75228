import type { UserinfoDocument } from '../../../contract/userinfo.ts';
import type { AuthRuntime } from '../auth/auth-runtime.ts';
import { identityDocument } from '../auth/identity-document.ts';
import { sessionPage } from '../http/gateway-pages.ts';
import { htmlResponse, type LocalResponse } from '../http/local-response.ts';
import type { RequestScope } from '../request-scope.ts';

/**
 * GET /.gatehouse/: the session page, the identity document (routes/userinfo.ts) for people: who
 * this application takes the browser for, its groups, when the session ends, and the ways to
 * sign out. Whatever the policies say, like userinfo; a browser not signed in is told so, with a
 * link to sign in, and is not redirected. Like the other gateway routes it neither refreshes the
 * session nor renews its idle timer.
 */
export function sessionPageRoute(
  scope: RequestScope,
  auth: AuthRuntime,
): LocalResponse | Promise<LocalResponse> {
  const page = (document: UserinfoDocument | null) =>
    htmlResponse(
      200,
      sessionPage({
        document,
        provider:
          document?.idp == null
            ? null
            : (auth.providers.get(document.idp)?.settings.displayName ?? document.idp),
        groupsFiltered: auth.settings.identityHeaders.groupsFilter !== undefined,
        signsIn: auth.providers.size > 0,
        paths: auth.paths,
        requestId: scope.requestId,
      }),
      [],
      'gateway',
    );
  const document = identityDocument(scope, auth);
  return document instanceof Promise ? document.then(page) : page(document);
}
