import type { RenderedProvider } from '../../../contract/config/auth-config.ts';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import type { GroupsListFailure } from '../../../contract/log-events.ts';
import { compileWildcard } from '../../../contract/policy/path-glob.ts';
import { capField } from '../../../lib/log/sanitize.ts';
import { fetchForCall, PROVIDER_TIMEOUT_SECONDS } from './oidc-client.ts';
import { providerCallSignal } from './provider-calls.ts';
import { groupsLeftOutOf } from './session.ts';

/** Pages of memberships read at most (999 each): an account in more is refused rather than read for ever. */
export const MAX_GRAPH_PAGES = 50;
/** Graph's largest page of a membership listing. */
const PAGE_SIZE = 999;
const GROUP_TYPE = '#microsoft.graph.group';

type GraphSettings = NonNullable<RenderedProvider['groupsOverage']>;

/** The groups Microsoft Graph listed for the signed-in user, or why it did not. */
export type GraphListing =
  | {
      readonly ok: true;
      /** The groups kept (those the application's policies name or its groupsFilter passes). */
      readonly groups: readonly string[];
      /** Groups listed in all, kept or not. */
      readonly listed: number;
    }
  | { readonly ok: false; readonly reason: GroupsListFailure; readonly detail: string };

const failed = (reason: GroupsListFailure, detail: string): GraphListing => ({ ok: false, reason, detail });

/** What a failed answer of Graph says: its status and its error code (never a token). */
async function answerDetail(response: Response): Promise<string> {
  let code = '';
  try {
    const body = (await response.json()) as { error?: { code?: unknown } };
    if (typeof body.error?.code === 'string') code = ` ${capField(body.error.code, 100)}`;
  } catch {
    // No JSON: the status says enough.
  }
  const hint =
    response.status === 401 || response.status === 403
      ? ' (the access token is not for Microsoft Graph, or lacks User.Read: add User.Read to the scopes)'
      : '';
  return `Microsoft Graph answered ${response.status}${code}${hint}`;
}

/**
 * Lists the groups the signed-in user is a member of, directly or through other groups
 * (`/v1.0/me/transitiveMemberOf`, the permission User.Read), with the sign-in's access token,
 * page by page: at most MAX_GRAPH_PAGES pages, each answer at most 1 MiB, all within the
 * provider timeout. A next page is followed only on Graph's own origin (the token goes nowhere
 * else) and no redirect is. Only groups are read (not directory roles or administrative units),
 * each named by `groupField`; `keep` picks those the session holds.
 */
export async function listGraphGroups(
  settings: GraphSettings,
  accessToken: string | undefined,
  keep: (group: string) => boolean,
): Promise<GraphListing> {
  if (!accessToken) return failed('no_access_token', 'the token endpoint gave no access token');
  const field = settings.groupField;
  const select = field === 'id' ? 'id' : `id,${field}`;
  let url: string | undefined =
    `${settings.graphUrl}/v1.0/me/transitiveMemberOf?$select=${select}&$top=${PAGE_SIZE}`;
  const signal = AbortSignal.timeout(PROVIDER_TIMEOUT_SECONDS * 1000);
  const kept = new Set<string>();
  let listed = 0;
  try {
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_GRAPH_PAGES)
        return failed('too_many_memberships', `more than ${MAX_GRAPH_PAGES * PAGE_SIZE} memberships`);
      const response = await fetchForCall(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        redirect: 'error',
        signal,
      });
      if (response.status !== 200)
        return failed(
          response.status === 401 || response.status === 403 ? 'graph_refused' : 'graph_error',
          await answerDetail(response),
        );
      const body = (await response.json()) as { value?: unknown; '@odata.nextLink'?: unknown };
      if (!Array.isArray(body.value))
        return failed('bad_answer', 'Microsoft Graph answered without a value list');
      for (const item of body.value as unknown[]) {
        if (item === null || typeof item !== 'object') continue;
        const member = item as Record<string, unknown>;
        if (member['@odata.type'] !== GROUP_TYPE) continue;
        listed++;
        const name = member[field];
        if (typeof name === 'string' && keep(name)) kept.add(name);
      }
      const next = body['@odata.nextLink'];
      if (next === undefined || next === null) url = undefined;
      else if (typeof next === 'string' && next.startsWith(`${settings.graphUrl}/`)) url = next;
      else return failed('next_page_elsewhere', 'Microsoft Graph named a next page elsewhere; not followed');
    }
  } catch (error) {
    // The sign-in's client left, or the sidecar stops: the provider call ends as cancelled, not
    // as a sign-in without groups.
    if (providerCallSignal()?.aborted) throw error;
    if (signal.aborted) return failed('graph_unreachable', `no answer within ${PROVIDER_TIMEOUT_SECONDS} s`);
    // A body that is not JSON is a bad answer; anything else never got one (refused, reset, too large).
    if (error instanceof SyntaxError) return failed('bad_answer', 'Microsoft Graph answered with no JSON');
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: { code?: unknown } }).cause?.code;
    const name = typeof code === 'string' ? code : typeof cause === 'string' ? cause : undefined;
    return failed(
      'graph_unreachable',
      capField(name ?? (error instanceof Error ? error.message : String(error)), 200),
    );
  }
  return { ok: true, groups: [...kept], listed };
}

const interest = new WeakMap<SidecarConfig, (group: string) => boolean>();

/**
 * The groups worth keeping of a user's many: those a policy of the application names, and those
 * `identityHeaders.groupsFilter` passes to the application. Remembered per config.
 */
export function groupsOfInterest(config: SidecarConfig): (group: string) => boolean {
  let test = interest.get(config);
  if (test === undefined) {
    const named = new Set<string>();
    for (const policy of config.policies)
      for (const selector of [...policy.include, ...policy.require, ...policy.exclude])
        for (const group of (selector as { groups?: readonly string[] }).groups ?? []) named.add(group);
    const patterns = (config.auth.identityHeaders.groupsFilter ?? []).map(compileWildcard);
    test = (group) => named.has(group) || patterns.some((matches) => matches(group));
    interest.set(config, test);
  }
  return test;
}

/**
 * The claims with the groups Graph lists in place of those the ID token left out, when the
 * provider is set to list them, keeping those of interest to the application's `config`;
 * unchanged otherwise (none included). `listing` says how the listing went.
 */
export async function withGraphGroups(
  claims: Record<string, unknown> | undefined,
  settings: RenderedProvider,
  accessToken: string | undefined,
  config: SidecarConfig,
): Promise<{ readonly claims: Record<string, unknown> | undefined; readonly listing?: GraphListing }> {
  if (
    claims === undefined ||
    settings.groupsOverage === undefined ||
    !groupsLeftOutOf(claims, settings.groupsClaim)
  )
    return { claims };
  const listing = await listGraphGroups(settings.groupsOverage, accessToken, groupsOfInterest(config));
  return listing.ok
    ? { claims: { ...claims, [settings.groupsClaim]: listing.groups }, listing }
    : { claims, listing };
}
