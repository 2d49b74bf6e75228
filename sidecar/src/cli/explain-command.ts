/** `gatehouse explain`: one request decided by the sidecar's policy engine under the config of the files, and why. */
import { writeFileSync } from 'node:fs';
import { METHODS } from 'node:http';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { ConfigError, configErrorReport } from '../../../contract/errors.ts';
import { canonicalizeTarget } from '../../../contract/policy/canonical-path.ts';
import { TOKEN_CLAIMS } from '../../../contract/policy/token-claims.ts';
import { compileHostMatcher, type HostMatcher, normaliseHost } from '../../../lib/net/host.ts';
import { serviceAccountIdentity, serviceTokenIdentity } from '../auth/machine-identity.ts';
import { processKeys } from '../auth/process-keys.ts';
import { readSnapshotOf } from '../config/config-files.ts';
import { configFromSnapshot } from '../config/load-application.ts';
import { tellSecretsElsewhere } from '../config/secrets-elsewhere.ts';
import { CONNECT_REFUSED, TRACE_REFUSED } from '../pipeline/stages/check-request.ts';
import type { Decision } from '../policy/decision.ts';
import { compilePolicyEngine, type PolicyEngine } from '../policy/engine.ts';
import { decisionWithFreshSignIn } from '../policy/fresh-sign-in.ts';
import type { PolicyIdentity, PolicyInput } from '../policy/input.ts';
import { tracePolicies } from '../policy/policy-trace.ts';
import { clientAddressOf } from './explain-client-address.ts';
import { type Caller, type ExplainFlags, parseExplainFlags } from './explain-flags.ts';
import { answerBeforeHostCheck, answerUnderReservedPrefix, type SidecarAnswer } from './explain-reserved.ts';
import { type Answer, explanationText } from './explain-text.ts';

/** The request as given can never reach this application's policies: why, for the person asking. */
class NeverDecided extends Error {}

/** The identity the sidecar would have for this caller under this config; NeverDecided when it would have none. */
function identityOf(caller: Caller, config: SidecarConfig, now: number): PolicyIdentity | null {
  const auth = config.auth;
  switch (caller.kind) {
    case 'anonymous':
      return null;
    case 'service-token': {
      const tokens = auth?.serviceTokens.tokens ?? [];
      const token = tokens.find((t) => t.id === caller.id);
      if (!token)
        throw new NeverDecided(
          `the application has no service token ${caller.id} (${tokens.length > 0 ? `it has ${tokens.map((t) => t.id).join(', ')}` : 'it has none'}): the sidecar refuses the credential before any policy`,
        );
      if (token.expiresAt !== null && token.expiresAt <= now)
        throw new NeverDecided(
          `service token ${caller.id} expired at ${new Date(token.expiresAt).toISOString()}: the sidecar refuses it before any policy`,
        );
      return serviceTokenIdentity(caller.id);
    }
    case 'service-account':
      if (!auth?.serviceAccounts)
        throw new NeverDecided(
          'the application does not take ServiceAccount tokens (spec.authentication.serviceAccounts): the sidecar never has such a caller',
        );
      return serviceAccountIdentity(caller.namespace, caller.name);
    case 'user': {
      const providers = auth?.providers.map((p) => p.name) ?? [];
      if (providers.length === 0)
        throw new NeverDecided('the application has no identity provider: nobody signs in to it');
      const idp = caller.idp ?? (providers.length === 1 ? (providers[0] as string) : undefined);
      if (idp === undefined)
        throw new NeverDecided(`give --idp: the application signs in through ${providers.join(', ')}`);
      if (!providers.includes(idp))
        throw new NeverDecided(
          `--idp ${idp} is not one of the application's identity providers (${providers.join(', ')})`,
        );
      const groupsClaim = auth?.providers.find((p) => p.name === idp)?.groupsClaim ?? 'groups';
      const dropped = Object.keys(caller.claims).find(
        (name) => TOKEN_CLAIMS.has(name) || name === groupsClaim,
      );
      if (dropped !== undefined)
        throw new NeverDecided(
          `--claim ${dropped}: a session keeps no such claim (${dropped === groupsClaim ? 'the groups claim of the provider: give --groups' : 'it describes the token, not the user'}), so no claim selector sees it`,
        );
      return {
        kind: 'user',
        sub: caller.sub,
        email: caller.email,
        groups: caller.groups,
        idp,
        // What a session keeps of the ID token: its claims but the token's own and the groups.
        claims: {
          sub: caller.sub,
          ...(caller.email !== null ? { email: caller.email, email_verified: true } : {}),
          ...caller.claims,
        },
        ...(caller.authenticatedAgo !== null
          ? { authTime: Math.floor(now / 1000) - caller.authenticatedAgo }
          : {}),
        serviceTokenId: null,
        serviceAccount: null,
      };
    }
  }
}

function answerOf(
  decision: Decision,
  acrValues: readonly string[],
  input: PolicyInput,
  config: SidecarConfig,
  navigation: boolean,
  engine: PolicyEngine,
): Answer {
  const forwarded = (says: string): Answer => ({ forwarded: true, status: null, error: null, says });
  if (decision.action === 'allow') return forwarded('goes to the application, with the user\u2019s identity');
  if (decision.action === 'bypass') return forwarded('goes to the application (bypass: no identity needed)');
  if (decision.action === 'service-auth')
    return forwarded('goes to the application, with the service\u2019s identity');
  const providers = config.auth?.providers.length ?? 0;
  if (decision.reason === 'login_required') {
    if (providers > 0 && navigation)
      return {
        forwarded: false,
        status: 302,
        error: null,
        says: 'is sent to sign in (302 to the identity provider), and decided again once signed in',
      };
    return {
      forwarded: false,
      status: 401,
      error: 'authentication_required',
      says: `gets 401 authentication_required (sign-in required${providers > 0 && !navigation ? '; a page navigation, --navigation, is sent to sign in instead' : ''})`,
    };
  }
  if (decision.reason === 'fresh_sign_in_required') {
    // A step-up asks for the classes that would let it through, with the window when there is one.
    const asked = [
      ...(acrValues.length > 0 ? [`acr_values=${acrValues.join(' ')}`] : []),
      ...(engine.signInWindow !== null ? [`max_age=${engine.signInWindow}`] : []),
    ].join(', ');
    const what = acrValues.length > 0 ? 'a sign-in of one of those classes' : 'a sign-in now';
    if (providers > 0 && navigation)
      return {
        forwarded: false,
        status: 302,
        error: null,
        says: `is sent to sign in again (302; the provider is asked for ${acrValues.length > 0 ? 'a stronger' : 'a recent'} authentication, ${asked}): policy ${decision.policy} lets it through after ${what}`,
      };
    return {
      forwarded: false,
      status: 401,
      error: 'fresh_sign_in_required',
      says: `gets 401 fresh_sign_in_required (${asked}; a page navigation, --navigation, is sent to sign in again): policy ${decision.policy} lets it through after ${what}`,
    };
  }
  if (input.identity === null && engine.acceptsMachines)
    return {
      forwarded: false,
      status: 401,
      error: 'authentication_required',
      says: 'gets 401 authentication_required (credentials required: the application takes machine callers)',
    };
  return { forwarded: false, status: 403, error: 'access_denied', says: 'gets 403 access_denied' };
}

/** `gatehouse explain`: 0 when the request would go to the application, 1 when it is refused, 3 for an invalid config. */
export async function runExplainCommand(argv: string[]): Promise<number> {
  const given = parseExplainFlags(argv);
  let config: SidecarConfig;
  try {
    config = configFromSnapshot(await readSnapshotOf(given.path, given.recursive), {
      fallbackKeys: processKeys(),
      ...(given.application ? { application: given.application } : {}),
      // No decision depends on a Secret: those kept out of the files are taken to be in the cluster.
      onSecretsElsewhere: tellSecretsElsewhere('gatehouse explain'),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(configErrorReport(error.errors));
    return 3;
  }
  // --peer: the client address found as the sidecar finds it, then decided as --ip is.
  const clientAddress = given.peer
    ? clientAddressOf(given.peer.address, given.peer.forwardedFor, config.trustedProxies)
    : undefined;
  const flags = clientAddress ? { ...given, ip: clientAddress.clientIp, clientAddress } : given;
  const request = {
    method: flags.method,
    target: flags.target,
    host: flags.host ?? null,
    clientIp: flags.ip ?? null,
    ...(clientAddress ? { clientAddress } : {}),
    privateEndpoint: flags.privateEndpoint ?? null,
  };
  // In the sidecar's order: the routes taken whatever the Host; the Host and the target
  // (check-request, with the methods it refuses); the credentials (authenticate); the reserved prefixes (gateway-routes).
  const hosts = compileHostMatcher(config.hosts);
  if (!METHODS.includes(flags.method))
    return refused(flags, request, {
      status: 400,
      error: 'bad_request',
      detail: `invalid_request_line: ${flags.method} is not a method the sidecar's HTTP parser knows`,
    });
  if (flags.method === 'CONNECT')
    return refused(flags, request, {
      status: CONNECT_REFUSED.status,
      error: CONNECT_REFUSED.code,
      detail: 'the sidecar is a gateway for one application, not a forward proxy',
    });
  const early = answerBeforeHostCheck(flags.method, flags.target, flags.host, config, hosts);
  if (early !== null) return answeredBySidecar(flags, request, null, early);
  const hostRefused = hostRefusal(flags.host, config, hosts);
  if (hostRefused !== null) return refused(flags, request, hostRefused);
  const canonical = canonicalizeTarget(flags.target, {
    windowsPaths: config.upstream.caseInsensitivePaths === true,
  });
  if ('error' in canonical)
    return refused(flags, request, { status: 400, error: canonical.error, detail: canonical.detail });
  if (flags.method === 'TRACE')
    return refused(flags, request, {
      status: TRACE_REFUSED.status,
      error: TRACE_REFUSED.code,
      detail: 'the application would echo the identity headers and the identity JWT to the caller',
    });
  const testsIp = config.policies.some((p) =>
    [...p.include, ...p.require, ...p.exclude].some((s) => 'ipRanges' in s),
  );
  let identity: PolicyIdentity | null;
  try {
    identity = identityOf(flags.caller, config, Date.now());
    const reserved = answerUnderReservedPrefix(canonical.path, config);
    if (reserved !== null) return answeredBySidecar(flags, request, canonical.path, reserved);
    if (testsIp && flags.ip === undefined)
      throw new NeverDecided(
        'give --ip <address> (or --peer <address>, the address the request comes from): a policy of the application tests the client address (ipRanges)',
      );
  } catch (error) {
    if (!(error instanceof NeverDecided)) throw error;
    process.stderr.write(`gatehouse explain: ${error.message}\n`);
    return 2;
  }
  const input: PolicyInput = {
    identity,
    // An address no range of the policies can hold when they test none.
    clientIp: flags.ip ?? '192.0.2.1',
    privateEndpoint: flags.privateEndpoint ?? null,
    path: canonical.path,
    method: flags.method,
  };
  const pathCase = { caseInsensitive: config.upstream.caseInsensitivePaths === true };
  const engine = compilePolicyEngine(config.policies, pathCase);
  const evaluation = engine.evaluate(input);
  const audit = evaluation.audit;
  // As the sidecar decides: a denied user whom a more recent sign-in would let through is asked for one.
  const { decision, acrValues } = decisionWithFreshSignIn(
    engine,
    evaluation.decision,
    input,
    Math.floor(Date.now() / 1000),
  );
  const answer = answerOf(decision, acrValues, input, config, flags.navigation, engine);
  const policies = tracePolicies(config.policies, input, pathCase);
  if (flags.format === 'json')
    write(
      flags,
      `${JSON.stringify({ request, path: canonical.path, caseInsensitivePaths: pathCase.caseInsensitive, caller: identity, decision, audit, answer, policies }, null, 2)}\n`,
    );
  else
    write(
      flags,
      explanationText(flags, canonical.path, identity, decision, audit, answer, policies, pathCase),
    );
  return answer.forwarded ? 0 : 1;
}

/** Writes a request the sidecar refuses before any policy is looked at; exit status 1. */
function refused(
  flags: ExplainFlags,
  request: unknown,
  refusal: { readonly status: number; readonly error: string; readonly detail: string },
): number {
  write(
    flags,
    flags.format === 'json'
      ? `${JSON.stringify({ request, path: null, refused: refusal }, null, 2)}\n`
      : `${flags.method} ${flags.target}\nThe sidecar refuses the request before any policy: ${refusal.status} ${refusal.error} (${refusal.detail}).\n`,
  );
  return 1;
}

/**
 * Writes a request the sidecar answers itself (its readiness route, the keys, a reserved path):
 * no policy decides it and it never reaches the application; exit status 1.
 */
function answeredBySidecar(
  flags: ExplainFlags,
  request: unknown,
  path: string | null,
  answer: SidecarAnswer,
): number {
  write(
    flags,
    flags.format === 'json'
      ? `${JSON.stringify({ request, path, answeredBySidecar: answer }, null, 2)}\n`
      : `${flags.method} ${flags.target}\nThe sidecar answers it itself, before any policy: ${answer.says}. It never reaches the application.\n`,
  );
  return 1;
}

/** Why the sidecar refuses this Host before any policy (check-request), or null when it serves it. */
function hostRefusal(
  host: string | undefined,
  config: SidecarConfig,
  hosts: HostMatcher,
): { status: number; error: string; detail: string } | null {
  if (host === undefined) return null;
  const normalised = normaliseHost(host);
  if (normalised === undefined)
    return { status: 400, error: 'bad_host', detail: `${host} is not a host name` };
  if (hosts(normalised)) return null;
  return {
    status: 421,
    error: 'unknown_host',
    detail: `the application serves ${config.hosts.join(', ')}, not ${normalised}`,
  };
}

function write(flags: ExplainFlags, text: string): void {
  if (flags.output !== undefined) writeFileSync(flags.output, text);
  else process.stdout.write(text);
}
