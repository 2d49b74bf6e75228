import { SESSION_ID } from '../../contract/session-id.ts';
import { isObjectKey, isObjectName } from '../../lib/kube/kube-object.ts';

/** What names the session to end: its id, or the identity provider's session it was signed in through. */
export interface SessionToEnd {
  readonly app: string;
  readonly session?: string | null;
  readonly providerSession?: string | null;
  readonly provider?: string | null;
}

/** A word as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9._:@/+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `gatehouse revoke` command that ends this one session everywhere, to paste; plain
 * `gatehouse revoke` when the logs name it by nothing the command takes. The values come from log
 * lines, which anyone who reaches a sidecar shapes in part: a session id is printed only when it is
 * one, the application only when it is a namespace/name or a name, and the rest in shell quotes.
 */
export function revokeCommand(end: SessionToEnd): string {
  // In a cluster the lines name the application namespace/name; a standalone sidecar's, its name.
  const app = isObjectKey(end.app) || isObjectName(end.app) ? ` --app ${end.app}` : '';
  if (end.session != null && SESSION_ID.test(end.session))
    return `gatehouse revoke --session ${end.session}${app}`;
  if (end.providerSession != null && end.provider != null)
    return `gatehouse revoke --provider-session ${shellWord(end.providerSession)} --provider ${shellWord(end.provider)}${app}`;
  return 'gatehouse revoke';
}

/**
 * The command that ends a session an analyst should look at (one with a flag) and that no
 * revocation or expiry has ended everywhere already; undefined for the others.
 */
export function sessionRevokeCommand(s: {
  readonly app: string;
  readonly sessionId: string;
  readonly anomalies: readonly unknown[];
  readonly end: { readonly kind: string } | null;
}): string | undefined {
  if (s.anomalies.length === 0 || s.end?.kind === 'revoked' || s.end?.kind === 'expired') return undefined;
  return revokeCommand({ app: s.app, session: s.sessionId });
}
