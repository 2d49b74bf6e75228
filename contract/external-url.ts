import type { KubeObject } from '../lib/kube/kube-object.ts';
import { compileHostMatcher } from '../lib/net/host.ts';

/*
 * Two applications that sign people in at the same external URL cannot both work: the sign-in
 * callback `<externalUrl>/.gatehouse/callback` reaches one of their sidecars only, and the other's
 * users come back to a sidecar that never started their sign-in. The operator and
 * `gatehouse validate` compare the URLs this way.
 */

/**
 * The external URL an application signs people in at, as compared: origin and path, no trailing
 * slash; undefined when it signs nobody in there (no identity provider, a URL its hosts do not
 * take) or is being deleted.
 */
export function externalUrlKey(object: KubeObject | undefined): string | undefined {
  if (!object || object.metadata.deletionTimestamp) return undefined;
  const auth = (object.spec as { authentication?: { externalUrl?: unknown; identityProviders?: unknown } })
    .authentication;
  const text = auth?.externalUrl;
  // Without an identity provider nobody signs in there: no callback to lose.
  if (
    typeof text !== 'string' ||
    !Array.isArray(auth?.identityProviders) ||
    auth.identityProviders.length === 0
  )
    return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  // An application whose hosts do not take its own external URL signs nobody in there (its
  // config is refused), so it holds the URL from no one.
  const hosts = (object.spec as { hosts?: unknown }).hosts;
  if (
    !Array.isArray(hosts) ||
    !hosts.every((h) => typeof h === 'string') ||
    !compileHostMatcher(hosts)(url.host)
  )
    return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
