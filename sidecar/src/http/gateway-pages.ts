import type { UserinfoDocument } from '../../../contract/userinfo.ts';
import { EVERYWHERE_PARAM, type GatewayPaths } from '../auth/gateway-paths.ts';
import { escapeHtml, gatewayPage } from './page.ts';

/** What the access-denied and session pages say of a session whose provider left its groups out. */
const GROUPS_LEFT_OUT =
  '<p>Your identity provider left your groups out of your sign-in (Microsoft Entra ID does for an account in more than 200 groups), so rules that give access by group cannot match you.</p>';

/** What the chooser shows of an identity provider. */
export interface ChooserEntry {
  readonly settings: { readonly name: string; readonly displayName: string };
}

/** The chooser: one link per identity provider, each carrying the return path. */
export function chooserPage(
  providers: Iterable<ChooserEntry>,
  returnPath: string,
  requestId: string,
  paths: GatewayPaths,
  /** The rest of each link's query: a new sign-in's (freshSignInQuery), or none. */
  again = '',
): string {
  const items = [...providers]
    .map((p) => {
      const href = `${paths.login}?idp=${encodeURIComponent(p.settings.name)}&rd=${encodeURIComponent(returnPath)}${again}`;
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(p.settings.displayName)}</a></li>`;
    })
    .join('');
  return gatewayPage('Sign in', `<p>Choose how to sign in.</p><ul class="idp">${items}</ul>`, requestId);
}

/** What a user sees when sign-in fails: a plain reason and a way to try again, back to the page they wanted. */
export function loginFailedPage(message: string, requestId: string, returnPath = '/'): string {
  return gatewayPage(
    'Sign-in failed',
    `<p>${escapeHtml(message)}</p><p><a href="${escapeHtml(returnPath)}">Try again</a></p>`,
    requestId,
  );
}

/** Who the 403 page says is signed in, and through what. */
export interface SignedInAs {
  /** The email, or the subject when there is none. */
  readonly name: string;
  /** The identity provider's display name; null for service tokens and ServiceAccounts. */
  readonly provider: string | null;
}

/**
 * 403 for a person: which application refused, as whom, the request id to quote, and for a
 * signed-in user the ways on: sign out, or sign in as someone else and come back to this page.
 */
export function accessDeniedPage(options: {
  readonly application: string;
  readonly host: string;
  readonly signedInAs: SignedInAs | null;
  readonly returnPath: string;
  readonly requestId: string;
  readonly paths: GatewayPaths;
  /** The provider left the user's groups out of the sign-in: rules naming groups cannot match. */
  readonly groupsLeftOut?: boolean;
}): string {
  const { application, host, signedInAs, returnPath, requestId, paths } = options;
  const groups = options.groupsLeftOut ? GROUPS_LEFT_OUT : '';
  const who = signedInAs
    ? `<p>You are signed in as <strong>${escapeHtml(signedInAs.name)}</strong>${signedInAs.provider ? ` (${escapeHtml(signedInAs.provider)})` : ''}.</p>`
    : '<p>You are not signed in.</p>';
  const ways =
    signedInAs?.provider != null
      ? `<p><a href="${escapeHtml(`${paths.logout}?rd=${encodeURIComponent(returnPath)}`)}">Sign in as someone else</a> &middot; <a href="${escapeHtml(paths.logout)}">Sign out</a> &middot; <a href="${escapeHtml(paths.prefix)}">Your session and groups</a></p>`
      : '';
  return gatewayPage(
    'Access denied',
    `<p>You do not have access to <strong>${escapeHtml(host)}</strong> (application ${escapeHtml(application)}).</p>${who}${groups}${ways}<p>If you need access, ask its owners and quote the request ID below.</p>`,
    requestId,
  );
}

/**
 * GET /.gatehouse/logout: asks before signing out. Only the form's POST (same origin) ends the
 * session, so a link or an image on another site cannot sign a user out.
 */
export function signOutPage(
  requestId: string,
  paths: GatewayPaths,
  returnPath: string | null = null,
): string {
  return gatewayPage(
    'Sign out',
    `<p>Sign out of this application?</p>${signOutForm(paths, returnPath, true)}<p><a href="${escapeHtml(returnPath ?? paths.home)}">Stay signed in</a></p>`,
    requestId,
  );
}

/**
 * The sign-out form: its button posts to the sign-out route (same origin), and its second one
 * with `?everywhere=1` ends the account's sessions on every device.
 */
function signOutForm(paths: GatewayPaths, returnPath: string | null, autofocus: boolean): string {
  const rd = returnPath ? `rd=${encodeURIComponent(returnPath)}` : '';
  const action = rd ? `${paths.logout}?${rd}` : paths.logout;
  const everywhere = `${paths.logout}?${EVERYWHERE_PARAM}=1${rd ? `&${rd}` : ''}`;
  return `<form method="post" action="${escapeHtml(action)}"><p><button type="submit"${autofocus ? ' autofocus' : ''}>Sign out</button></p><p><button type="submit" formaction="${escapeHtml(everywhere)}">Sign out on every device</button><br>Ends your sessions of this application in every browser and on every device, also one you no longer have.</p></form>`;
}

/** What the session page shows of the caller (null: not signed in) and how to name their provider. */
export interface SessionPageOptions {
  readonly document: UserinfoDocument | null;
  /** The display name of the provider the user signed in with; null for machine callers. */
  readonly provider: string | null;
  /** Whether the application sends only some groups (`identityHeaders.groupsFilter`). */
  readonly groupsFiltered: boolean;
  /** Whether the application signs anyone in (has identity providers). */
  readonly signsIn: boolean;
  readonly paths: GatewayPaths;
  readonly requestId: string;
}

/**
 * GET /.gatehouse/: who this application takes the browser for, its groups and when the session
 * ends, with the ways to sign out. For a user asking why a page refuses them, and for their
 * helpdesk (the session id is what `gatehouse revoke --session` and the logs name).
 */
export function sessionPage(options: SessionPageOptions): string {
  const { document: d, paths, requestId } = options;
  if (d === null)
    return gatewayPage(
      'Your session',
      `<p>You are not signed in to this application.</p>${options.signsIn ? `<p><a href="${escapeHtml(`${paths.login}?rd=${encodeURIComponent(paths.home)}`)}">Sign in</a></p>` : ''}`,
      requestId,
    );
  const row = (name: string, value: string) => `<tr><th scope="row">${name}</th><td>${value}</td></tr>`;
  const time = (iso: string | null) => (iso === null ? '' : `<time>${escapeHtml(iso)}</time>`);
  const groups =
    d.groups.length === 0 ? 'none' : d.groups.map((g) => `<code>${escapeHtml(g)}</code>`).join(', ');
  const rows = [
    row('Signed in as', `<strong>${escapeHtml(d.email ?? d.sub)}</strong>`),
    ...(d.email === null ? [] : [row('Subject', `<code>${escapeHtml(d.sub)}</code>`)]),
    ...(options.provider === null ? [] : [row('Through', escapeHtml(options.provider))]),
    row(options.groupsFiltered ? 'Groups sent to the application' : 'Groups', groups),
    ...(d.signedInAt === null ? [] : [row('Signed in at', time(d.signedInAt))]),
    ...(d.authenticatedAt === null ? [] : [row('Authenticated at the provider', time(d.authenticatedAt))]),
    ...(d.amr === null
      ? []
      : [row('Authenticated with', d.amr.map((m) => `<code>${escapeHtml(m)}</code>`).join(', '))]),
    ...(d.acr === null ? [] : [row('Class of sign-in', `<code>${escapeHtml(d.acr)}</code>`)]),
    ...(d.expiresAt === null
      ? []
      : [row(d.kind === 'user' ? 'Session ends at' : 'Credential ends at', time(d.expiresAt))]),
    ...(d.idleExpiresAt === null ? [] : [row('Ends if unused at', time(d.idleExpiresAt))]),
    ...(d.sid === null ? [] : [row('Session ID', `<code>${escapeHtml(d.sid)}</code>`)]),
  ];
  const leftOut = d.groupsLeftOut ? GROUPS_LEFT_OUT : '';
  const signOut = d.kind === 'user' ? signOutForm(paths, null, false) : '';
  return gatewayPage(
    'Your session',
    `<table>${rows.join('')}</table>${leftOut}${signOut}<p>For scripts: <a href="${escapeHtml(paths.userinfo)}">${escapeHtml(paths.userinfo)}</a> (JSON).</p>`,
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
export function crossSiteSignOutPage(requestId: string, paths: GatewayPaths): string {
  return gatewayPage(
    'Sign-out refused',
    `<p>This sign-out request did not come from this site, so you are still signed in.</p><p><a href="${escapeHtml(paths.logout)}">Sign out</a></p>`,
    requestId,
  );
}

/** After a sign-out: signing in again goes back to the page the user signed out from. */
export function signedOutPage(requestId: string, returnPath = '/'): string {
  return gatewayPage(
    'Signed out',
    `<p>You are signed out.</p><p><a href="${escapeHtml(returnPath)}">Sign in again</a></p>`,
    requestId,
  );
}

/** An unknown address under the reserved prefix. */
export function notFoundPage(requestId: string): string {
  return gatewayPage('404 Not Found', '<p>There is no such page.</p>', requestId);
}
