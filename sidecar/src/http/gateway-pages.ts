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
