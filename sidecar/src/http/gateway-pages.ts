import { escapeHtml, gatewayPage } from './page.ts';

/** What the chooser shows of an identity provider. */
export interface ChooserEntry {
  readonly settings: { readonly name: string; readonly displayName: string };
}

/** The chooser: one link per identity provider, each carrying the return path. */
export function chooserPage(
  providers: Iterable<ChooserEntry>,
  returnPath: string,
  requestId: string,
): string {
  const items = [...providers]
    .map((p) => {
      const href = `/.gatehouse/login?idp=${encodeURIComponent(p.settings.name)}&rd=${encodeURIComponent(returnPath)}`;
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(p.settings.displayName)}</a></li>`;
    })
    .join('');
  return gatewayPage('Sign in', `<p>Choose how to sign in.</p><ul class="idp">${items}</ul>`, requestId);
}

/** What a user sees when sign-in fails: a plain reason and a way to try again. */
export function loginFailedPage(message: string, requestId: string): string {
  return gatewayPage(
    'Sign-in failed',
    `<p>${escapeHtml(message)}</p><p><a href="/">Try again</a></p>`,
    requestId,
  );
}

/**
 * GET /.gatehouse/logout: asks before signing out. Only the form's POST (same origin) ends the
 * session, so a link or an image on another site cannot sign a user out.
 */
export function signOutPage(requestId: string): string {
  return gatewayPage(
    'Sign out',
    '<p>Sign out of this application?</p><form method="post" action="/.gatehouse/logout"><button type="submit" autofocus>Sign out</button></form><p><a href="/">Stay signed in</a></p>',
    requestId,
  );
}

/** The session is over here; the browser goes on to the identity provider's own sign-out. */
export function leavingPage(location: string, requestId: string): string {
  const href = escapeHtml(location);
  return gatewayPage(
    'Signing out',
    `<p>You are signed out here. <a href="${href}">Continue to your identity provider</a> to sign out there too.</p>`,
    requestId,
    `<meta http-equiv="refresh" content="0;url=${href}">`,
  );
}

/** A sign-out POST that did not come from a page of this site. */
export function crossSiteSignOutPage(requestId: string): string {
  return gatewayPage(
    'Sign-out refused',
    '<p>This sign-out request did not come from this site, so you are still signed in.</p><p><a href="/.gatehouse/logout">Sign out</a></p>',
    requestId,
  );
}

/** After logout. */
export function signedOutPage(requestId: string): string {
  return gatewayPage(
    'Signed out',
    '<p>You are signed out.</p><p><a href="/">Sign in again</a></p>',
    requestId,
  );
}

/** An unknown address under the reserved prefix. */
export function notFoundPage(requestId: string): string {
  return gatewayPage('404 Not Found', '<p>There is no such page.</p>', requestId);
}
