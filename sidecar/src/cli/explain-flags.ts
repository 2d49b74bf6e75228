import { isIP } from 'node:net';
import { UsageError } from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { parseDurationMs } from '../../../lib/duration.ts';
import { normaliseIp } from '../../../lib/net/client-ip.ts';
import { isPrivateEndpoint } from '../../../lib/net/proxy-protocol-endpoint.ts';

export const EXPLAIN_USAGE = `Usage: gatehouse explain <file|dir|-> --path <path> [caller] [options]

Decides one request the way the sidecar does, with the application's policies as the files hold
them (the YAML you apply with kubectl, a standalone sidecar's config, or - for standard input:
kubectl get accessapplications,accesspolicies -n <ns> -o yaml | gatehouse explain - ...), and says why: the
decision, the policy and selector that made it, what the client gets, and how every selector of
every policy came out, in the order the sidecar looks at them. Nothing is sent anywhere.

Request:
  --path <path>              the request target, with its query (e.g. /admin/users?id=7); it is
                             read as the sidecar reads it (dot segments, encoded slashes, ...)
  --method <method>          default GET
  --host <host>              the Host header (default: not checked); one the application does not
                             serve is refused 421 before any policy
  --ip <address>             the client address the policies see (needed when a policy tests
                             ipRanges)
  --peer <address>           instead of --ip: the address the connection comes from (an ingress,
                             a load balancer; behind the PROXY protocol, the address its header
                             names): the client address is found from it as the sidecar finds it,
                             with spec.trustedProxies, and explained
  --forwarded-for <list>     with --peer: the X-Forwarded-For the peer sends (e.g. "203.0.113.7,
                             10.8.0.5"); repeatable, as the header may be
  --private-endpoint <id>    the private endpoint the connection came through, as the log's
                             privateEndpoint writes it: aws:<vpce id>, azure:<LinkID> or
                             gcp:<connection id> (default: none)
  --navigation               a browser's page navigation: a refusal that a sign-in could change
                             is a redirect to sign in instead of 401

Caller (none of these: a request without credentials):
  --email <address>          a signed-in user with this (verified) email
  --sub <subject>            the user's subject (default: the email)
  --groups <a,b,...>         the user's groups; repeatable
  --idp <name>               the identity provider the user signed in with (default: the
                             application's only one)
  --claim <name>=<value>     a claim of the user's ID token (the value read as JSON when it is
                             JSON, else as text), such as acr=phr (the class of the sign-in,
                             for acrValues policies); repeatable
  --authenticated-ago <duration>  how long ago the user authenticated at the provider (the ID
                             token's auth_time), for signedInWithin policies (default: the
                             provider did not say, which no signedInWithin passes)
  --service-token <id>       a caller with this service token of the application
  --service-account <namespace/name>  a Kubernetes ServiceAccount

Options:
  -R, --recursive            read the directory's subdirectories too (a repository of manifests)
  --application <name>       the AccessApplication when the files hold several (namespace/name
                             when a name is in two namespaces)
  --format <format>          text (default) or json
  -o, --output <file>        write the answer to a file instead of standard output

Exit status: 0 the request goes to the application; 1 it is refused; 2 a usage error; 3 the
config is invalid (its errors are printed as gatehouse validate prints them).
`;

export type Caller =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly email: string | null;
      readonly sub: string;
      readonly groups: readonly string[];
      readonly idp: string | null;
      readonly claims: Readonly<Record<string, unknown>>;
      /** Seconds since the user authenticated at the provider; null when not given. */
      readonly authenticatedAgo: number | null;
    }
  | { readonly kind: 'service-token'; readonly id: string }
  | { readonly kind: 'service-account'; readonly namespace: string; readonly name: string };

/** The flags of `gatehouse explain`, checked against nothing but themselves. */
export interface ExplainFlags {
  readonly path: string;
  /** The directory's subdirectories are read too. */
  readonly recursive: boolean;
  readonly application?: string;
  readonly method: string;
  readonly target: string;
  readonly host?: string;
  readonly ip?: string;
  /** The connection's address (--peer), from which the client address is found; excludes ip. */
  readonly peer?: { readonly address: string; readonly forwardedFor: readonly string[] };
  readonly privateEndpoint?: string;
  readonly navigation: boolean;
  readonly caller: Caller;
  readonly format: 'text' | 'json';
  readonly output?: string;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The flags of `gatehouse explain`, checked; no side effects. Throws UsageError. */
export function parseExplainFlags(argv: readonly string[]): ExplainFlags {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    options: {
      path: { type: 'string' },
      method: { type: 'string', default: 'GET' },
      host: { type: 'string' },
      ip: { type: 'string' },
      peer: { type: 'string' },
      'forwarded-for': { type: 'string', multiple: true, default: [] },
      'private-endpoint': { type: 'string' },
      navigation: { type: 'boolean', default: false },
      email: { type: 'string' },
      sub: { type: 'string' },
      groups: { type: 'string', multiple: true, default: [] },
      idp: { type: 'string' },
      claim: { type: 'string', multiple: true, default: [] },
      'authenticated-ago': { type: 'string' },
      'service-token': { type: 'string' },
      'service-account': { type: 'string' },
      application: { type: 'string' },
      recursive: { type: 'boolean', short: 'R', default: false },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
    allowPositionals: true,
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError('give one file or directory');
  if (values.path === undefined) throw new UsageError('give --path <path>, the request target');
  if (!METHOD.test(values.method)) throw new UsageError('--method must be an HTTP method, e.g. GET');
  if (values.ip !== undefined && isIP(values.ip) === 0)
    throw new UsageError(`--ip ${values.ip} is not an IPv4 or IPv6 address`);
  if (values.peer !== undefined && isIP(values.peer) === 0)
    throw new UsageError(`--peer ${values.peer} is not an IPv4 or IPv6 address`);
  if (values.peer !== undefined && values.ip !== undefined)
    throw new UsageError(
      'give --ip (the client address) or --peer (the connection\u2019s, with --forwarded-for), not both',
    );
  const forwardedFor = values['forwarded-for'];
  if (forwardedFor.length > 0 && values.peer === undefined)
    throw new UsageError('--forwarded-for needs --peer, the address that sends it');
  const privateEndpoint = values['private-endpoint'];
  if (privateEndpoint !== undefined && !isPrivateEndpoint(privateEndpoint))
    throw new UsageError(
      `--private-endpoint ${privateEndpoint} is none: give aws:<vpce id>, azure:<LinkID> or gcp:<connection id>`,
    );
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError('--format must be text or json');
  return {
    path,
    recursive: values.recursive,
    ...(values.application ? { application: values.application } : {}),
    method: values.method.toUpperCase(),
    target: values.path,
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.ip !== undefined ? { ip: normaliseIp(values.ip) } : {}),
    ...(values.peer !== undefined ? { peer: { address: values.peer, forwardedFor } } : {}),
    ...(privateEndpoint !== undefined ? { privateEndpoint } : {}),
    navigation: values.navigation,
    caller: callerOf(values),
    format: values.format,
    ...(values.output !== undefined ? { output: values.output } : {}),
  };
}

function callerOf(values: {
  readonly email?: string | undefined;
  readonly sub?: string | undefined;
  readonly groups: readonly string[];
  readonly idp?: string | undefined;
  readonly claim: readonly string[];
  readonly 'authenticated-ago'?: string | undefined;
  readonly 'service-token'?: string | undefined;
  readonly 'service-account'?: string | undefined;
}): Caller {
  const user =
    values.email !== undefined ||
    values.sub !== undefined ||
    values.groups.length > 0 ||
    values.idp !== undefined ||
    values.claim.length > 0 ||
    values['authenticated-ago'] !== undefined;
  const token = values['service-token'];
  const account = values['service-account'];
  if ([user, token !== undefined, account !== undefined].filter(Boolean).length > 1)
    throw new UsageError(
      'give one caller: a user (--email, --sub, ...), --service-token or --service-account',
    );
  if (token !== undefined) {
    if (token.length === 0 || token.length > 128)
      throw new UsageError('--service-token must be 1 to 128 characters');
    return { kind: 'service-token', id: token };
  }
  if (account !== undefined) {
    const [namespace = '', name = '', more] = account.split('/');
    if (more !== undefined || !OBJECT_NAME.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
      throw new UsageError('--service-account must be namespace/name');
    return { kind: 'service-account', namespace, name };
  }
  if (!user) return { kind: 'anonymous' };
  const email = values.email?.trim();
  if (email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(email))
    throw new UsageError('--email must be an email address');
  const sub = values.sub ?? email;
  if (sub === undefined) throw new UsageError('a user needs --email or --sub');
  const groups = values.groups
    .flatMap((g) => g.split(','))
    .map((g) => g.trim())
    .filter((g) => g !== '');
  const claims: Record<string, unknown> = {};
  for (const pair of values.claim) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--claim ${pair}: give name=value`);
    const text = pair.slice(at + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    claims[pair.slice(0, at)] = value;
  }
  const ago = values['authenticated-ago'];
  const agoMs = ago === undefined ? undefined : parseDurationMs(ago);
  if (ago !== undefined && agoMs === undefined)
    throw new UsageError(`--authenticated-ago ${ago} is not a duration such as 10m or 2h`);
  return {
    kind: 'user',
    email: email ?? null,
    sub,
    groups,
    idp: values.idp ?? null,
    claims,
    authenticatedAgo: agoMs === undefined ? null : Math.floor(agoMs / 1000),
  };
}
