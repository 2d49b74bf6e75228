import { isDeepStrictEqual } from 'node:util';
import { applicationLabel } from '../../contract/application-label.ts';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { type AddressSet, createAddressSet } from '../../lib/net/cidr.ts';
import { compileHostMatcher, type HostMatcher } from '../../lib/net/host.ts';
import { type AuthRuntime, compileAuthRuntime } from './auth/auth-runtime.ts';
import type { ProviderCalls } from './auth/provider-calls.ts';
import { compileRevocations, type RevocationIndex } from './auth/revocations.ts';
import type { SessionEnds } from './auth/session-ends.ts';
import { compileIdentityHeaderTest, type HeaderTest } from './http/identity-headers.ts';
import { createUntrustedForwarders, type UntrustedForwarders } from './net/untrusted-forwarders.ts';
import { compilePolicyEngine, type PolicyEngine } from './policy/engine.ts';
import {
  createUpstream,
  sameUpstreamSettings,
  type Upstream,
  type UpstreamFairness,
} from './upstream/upstream.ts';

/**
 * Everything a request needs, compiled once from a SidecarConfig and never changed afterwards.
 * A request holds the state it started with, so a reload never changes a request half-way.
 */
export interface RuntimeState {
  readonly config: SidecarConfig;
  /** `namespace/name` (just `name` in file mode): the app in log lines and metric labels. */
  readonly appLabel: string;
  /** `namespace/name` (`default/name` in file mode without a namespace): how revocations name the app. */
  readonly appKey: string;
  readonly upstream: Upstream;
  readonly trustedProxies: AddressSet;
  /** Peers told about for sending X-Forwarded-For untrusted; kept while the trusted proxies stay the same. */
  readonly untrustedForwarders: UntrustedForwarders;
  /** Peers whose connections begin with a PROXY header (spec.proxyProtocol.from); null when none. */
  readonly proxyProtocolFrom: AddressSet | null;
  readonly hosts: HostMatcher;
  readonly policy: PolicyEngine;
  /** Sessions, service tokens, ServiceAccounts and identity signing; null when the app authenticates nobody. */
  readonly auth: AuthRuntime | null;
  /** Identity and consumed credential headers: never forwarded, in any spelling. */
  readonly withheldHeader: HeaderTest;
  readonly redactedQueryParameters: ReadonlySet<string>;
  readonly loggedRequestHeaders: ReadonlySet<string>;
  /** Ended sessions (AccessRevocations), by user. */
  readonly revocations: RevocationIndex;
  /** Where a route that ends sessions sends them (the process's, shared by every state); null in tests without one. */
  readonly sessionEnds: SessionEnds | null;
}

/** What lives as long as the sidecar, whatever config it serves. */
export interface SidecarLifetime {
  /** Where a route that ends sessions sends them (the process's); absent in tests without one. */
  readonly sessionEnds?: SessionEnds | null;
  /** The sidecar's calls to identity providers; absent, the previous state's are kept (or made). */
  readonly providerCalls?: ProviderCalls;
  /** The largest request head the sidecar reads (`--max-header-size`): a session's cookies must fit in it. */
  readonly maxHeaderBytes?: number;
}

/**
 * Compiles a config into runtime state, reusing the previous upstream pool when its settings did
 * not change and the previous policy engine when the policies are the same objects.
 */
export function compileRuntimeState(
  config: SidecarConfig,
  fairness: UpstreamFairness,
  previous?: RuntimeState,
  lifetime: SidecarLifetime = {},
): RuntimeState {
  const upstream =
    previous && sameUpstreamSettings(previous.config.upstream, config.upstream)
      ? previous.upstream
      : createUpstream(config.upstream, fairness);
  const { name, namespace } = config.application;
  const auth = compileAuthRuntime(
    config.auth,
    config.keys,
    previous?.auth,
    lifetime.providerCalls,
    lifetime.maxHeaderBytes,
  );
  return Object.freeze({
    config,
    appLabel: applicationLabel(config.application),
    appKey: `${namespace || 'default'}/${name}`,
    upstream,
    trustedProxies: createAddressSet(config.trustedProxies),
    untrustedForwarders:
      previous && isDeepStrictEqual(previous.config.trustedProxies, config.trustedProxies)
        ? previous.untrustedForwarders
        : createUntrustedForwarders(),
    proxyProtocolFrom: config.proxyProtocol ? createAddressSet(config.proxyProtocol.from) : null,
    hosts: compileHostMatcher(config.hosts),
    // A config that carries its predecessor's policies (a revocation, see parseSidecarConfig)
    // keeps their compiled form.
    policy:
      previous &&
      previous.config.policies === config.policies &&
      previous.config.upstream.caseInsensitivePaths === config.upstream.caseInsensitivePaths
        ? previous.policy
        : compilePolicyEngine(config.policies, {
            caseInsensitive: config.upstream.caseInsensitivePaths === true,
          }),
    auth,
    withheldHeader: compileIdentityHeaderTest(auth?.withheldHeaders),
    redactedQueryParameters: new Set(config.logging.redactQueryParameters),
    loggedRequestHeaders: new Set(config.logging.requestHeaders),
    revocations: compileRevocations(config.revocations),
    sessionEnds: lifetime.sessionEnds ?? null,
  });
}
