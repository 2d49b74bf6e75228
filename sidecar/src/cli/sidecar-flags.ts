import { isIP } from 'node:net';
import { parseUpstreamOrigin } from '../../../contract/config/render.ts';
import { OPERATOR_CA_ENV } from '../../../contract/config-stream.ts';
import {
  parseDurationFlag,
  parseFractionFlag,
  parseIntegerFlag,
  parseListen,
  UsageError,
} from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { IDLE_COLLECTION_MIN_GROWTH_BYTES } from '../../../lib/idle-collection.ts';
import { type ClientLimits, DEFAULT_CLIENT_LIMITS } from '../server.ts';

export const SIDECAR_USAGE = `Usage: gatehouse sidecar --config <file|dir> [options]
       gatehouse sidecar --operator-url <url> --operator-ca <file> --token-file <file> [options]

Serves one AccessApplication: every request is checked, forwarded to the upstream and
written as one JSON line to stdout. The config comes from files (standalone) or from the
operator's stream (cluster mode; not ready until the first config arrives).

Options:
  --config <path>               AccessApplication YAML file or directory (reloaded on change)
  --operator-url <url>          operator config endpoint, e.g. https://gatehouse-operator.gatehouse-system.svc:8443
  --operator-ca <file>          CA bundle of the operator's serving certificate
                                (default: the PEM in $GATEHOUSE_OPERATOR_CA, set by the injection webhook)
  --token-file <file>           projected ServiceAccount token with audience gatehouse
  --application <name>          which application to serve (files: when they define several,
                                namespace/name when a name is in two namespaces; operator:
                                refused unless this pod serves it)
  --upstream <url>              origin to forward to, overriding spec.upstream.url
  --upstream-address <host:port>  address to forward to, keeping the scheme of spec.upstream.url
                                and the name an https upstream's certificate is checked for
                                (injected sidecars: the app's port on 127.0.0.1)
  --listen <[host]:port>        traffic listener (default :4180: every IPv6 and IPv4 address)
  --admin-listen <[host]:port>  /metrics, /healthz, /readyz (default :9180)
  --shutdown-grace <duration>   time from SIGTERM to exit: in-flight requests drain, then what is
                                left is closed and logged; sign-outs not through to the operator
                                yet get what remains (default 25s; keep it under the pod's
                                terminationGracePeriodSeconds)
  --shutdown-delay <duration>   the first part of the grace: from SIGTERM, /readyz answers 503 but
                                new connections are still accepted and served, for proxies that
                                learn late that the pod is going (default 5s or half the grace
                                when that is shorter; at most half the grace; 0s stops accepting
                                at once, as SIGINT does)
  --poll-interval <d>           config re-check interval besides file watching (default 1s)
  --revocations-dir <dir>       with --config: a directory the replicas share; its AccessRevocation
                                files are read with the config, and sign-outs and logouts from the
                                provider are written there, so they end the session in every replica;
                                the replica reports the revocations in force in it under .replicas/
  --session-ends-file <file>    keeps this sidecar's sign-outs and logouts from the provider
                                across a restart of its container: enforced again at start, and
                                those not through to the operator (or --revocations-dir) yet sent
                                again; one file per sidecar, never shared (replicas share
                                --revocations-dir) (injected sidecars: an emptyDir of the pod)
  --in-progress-interval <d>    a request still in progress (a stream, a long download, a WebSocket)
                                gets a request_in_progress line once it has lasted this long, and
                                one every this long after, so it is in the logs (and the audit)
                                before its request line, written at its end (default 60s; 0s:
                                never; at most 1h)
  --idle-collection-after <d>   quiet time (no request started) after which the sidecar gives memory
                                back with one memory-reducing garbage collection, at most once
                                every six such times and only when the heap grew by ${IDLE_COLLECTION_MIN_GROWTH_BYTES / 1024 / 1024} MiB since the
                                last (default 10s: at most once a minute; 0s: never; at most 1h)

Client limits (hostile and broken clients):
  --max-header-size <bytes>     largest request head accepted, else 431 (default 16384)
  --client-header-timeout <d>   time for a client to send the request head, else 408 (default 10s)
  --client-idle-timeout <d>     longest client silence during a request (not while the application
                                makes its answer and the client has taken all of it so far), and
                                longest a WebSocket's client may take nothing the application sends
                                (default 60s)
  --keep-alive-timeout <d>      idle keep-alive connection lifetime (default 65s)
  --max-connections <n>         client connections open at once; at the cap a new one closes the
                                connection idle longest, or is closed when all are busy (default 12000)
  --listen-backlog <n>          connections the kernel may hold until the sidecar accepts them
                                (default 4096; capped by net.core.somaxconn)
  --client-body-timeout <d>     time for a request body, extended 1 s per --client-body-min-rate
                                bytes received, else 408 (default 20s; 0s: off)
  --client-body-min-rate <B/s>  see --client-body-timeout (default 500)
  --client-request-timeout <d>  total time to receive a whole request, else 408 (default 10m; 0s: none)
  --client-send-min-rate <B/s>  least a client must take of a response, or of what a WebSocket's
                                application sends, that waits on it, averaged over each
                                --client-idle-timeout it keeps it waiting, else the connection is
                                reset (default 500; 0: off)
  --client-contended-rate <B/s> least a client must send of its body, or take of a response that
                                waits on it, over 5 s or more while another caller's request waits
                                for the upstream connection it holds, else that connection goes to
                                the request (default 65536; 0: off)
  --upstream-queue-timeout <d>  longest wait for an upstream connection, else 503 (default 10s)
  --upstream-queue-size <n>     requests waiting for an upstream connection; more get 503 (default 1024)
  --anonymous-share <fraction>  of upstream connections, and of --max-tunnels, anonymous requests may
                                hold together (default 0.5)
  --client-share <fraction>     of upstream connections one caller may hold (default 0.25)
  --max-tunnels <n>             WebSocket tunnels open at once (default 4096)
  --max-client-tunnels <n>      WebSocket tunnels one caller may hold (default 512)
`;

/** Everything `gatehouse sidecar` was told on its command line, checked. */
export interface SidecarFlags {
  readonly config: string | undefined;
  readonly operator:
    | { readonly url: string; readonly ca: { file: string } | { pem: string }; readonly tokenFile: string }
    | undefined;
  readonly application: string | undefined;
  readonly upstream: string | undefined;
  /** host:port to connect to, keeping the config's scheme and TLS name (injected sidecars). */
  readonly upstreamAddress: string | undefined;
  readonly listen: { host: string; port: number };
  readonly adminListen: { host: string; port: number };
  readonly graceMs: number;
  /** From SIGTERM, how long new connections are still accepted (the first part of graceMs). */
  readonly delayMs: number;
  readonly pollIntervalMs: number;
  readonly revocationsDir: string | undefined;
  readonly sessionEndsFile: string | undefined;
  readonly idleCollectionAfterMs: number;
  /** --in-progress-interval (0: never). */
  readonly inProgressIntervalMs: number;
  readonly limits: ClientLimits;
}

const D = DEFAULT_CLIENT_LIMITS;

/** --idle-collection-after's default: the quiet time before a sidecar gives memory back. */
export const DEFAULT_IDLE_COLLECTION_AFTER_MS = 10_000;
/** Quiet times that at least separate two idle collections (once a minute by default). */
export const IDLE_COLLECTION_GAP = 6;

/** Parses and checks the flags (pure: reads only argv and the given environment). */
export function parseSidecarFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): SidecarFlags {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      config: { type: 'string' },
      'operator-url': { type: 'string' },
      'operator-ca': { type: 'string' },
      'token-file': { type: 'string' },
      application: { type: 'string' },
      upstream: { type: 'string' },
      'upstream-address': { type: 'string' },
      listen: { type: 'string', default: ':4180' },
      'admin-listen': { type: 'string', default: ':9180' },
      'shutdown-grace': { type: 'string', default: '25s' },
      'shutdown-delay': { type: 'string' },
      'idle-collection-after': { type: 'string', default: `${DEFAULT_IDLE_COLLECTION_AFTER_MS / 1000}s` },
      'poll-interval': { type: 'string', default: '1s' },
      'in-progress-interval': { type: 'string', default: '60s' },
      'revocations-dir': { type: 'string' },
      'session-ends-file': { type: 'string' },
      'max-header-size': { type: 'string', default: String(D.maxHeaderBytes) },
      'client-header-timeout': { type: 'string', default: '10s' },
      'client-idle-timeout': { type: 'string', default: '60s' },
      'keep-alive-timeout': { type: 'string', default: '65s' },
      'max-connections': { type: 'string', default: String(D.maxConnections) },
      'listen-backlog': { type: 'string', default: String(D.listenBacklog) },
      'client-body-timeout': { type: 'string', default: '20s' },
      'client-body-min-rate': { type: 'string', default: String(D.bodyMinRate) },
      'client-request-timeout': { type: 'string', default: '10m' },
      'client-send-min-rate': { type: 'string', default: String(D.sendMinRate) },
      'client-contended-rate': { type: 'string', default: String(D.contendedRate) },
      'upstream-queue-timeout': { type: 'string', default: '10s' },
      'upstream-queue-size': { type: 'string', default: String(D.maxQueue) },
      'anonymous-share': { type: 'string', default: String(D.anonymousShare) },
      'client-share': { type: 'string', default: String(D.clientShare) },
      'max-tunnels': { type: 'string', default: String(D.maxTunnels) },
      'max-client-tunnels': { type: 'string', default: String(D.maxClientTunnels) },
    },
    strict: true,
    allowPositionals: false,
  });
  const operatorUrl = values['operator-url'];
  if (values.config && operatorUrl) throw new UsageError('give --config or --operator-url, not both');
  if (!values.config && !operatorUrl) throw new UsageError('--config or --operator-url is required');
  const caFile = values['operator-ca'];
  const caPem = env[OPERATOR_CA_ENV];
  if (operatorUrl && ((!caFile && !caPem) || !values['token-file'])) {
    throw new UsageError(`--operator-url needs --operator-ca (or $${OPERATOR_CA_ENV}) and --token-file`);
  }
  if (operatorUrl && !/^https:\/\//.test(operatorUrl)) throw new UsageError('--operator-url must be https');
  if (operatorUrl && values['revocations-dir'])
    throw new UsageError(
      '--revocations-dir is for --config; with --operator-url revocations come from the operator',
    );
  if (values.upstream !== undefined) {
    const { problems } = parseUpstreamOrigin(values.upstream);
    if (problems.length > 0) throw new UsageError(`--upstream ${problems.join('; ')}`);
  }
  const upstreamAddress = values['upstream-address'];
  if (upstreamAddress !== undefined) {
    if (values.upstream !== undefined)
      throw new UsageError('give --upstream or --upstream-address, not both');
    const problem = upstreamAddressProblem(upstreamAddress);
    if (problem) throw new UsageError(`--upstream-address ${problem}`);
  }
  const duration = (name: keyof typeof values) => parseDurationFlag(values[name] as string, `--${name}`);
  const integer = (name: keyof typeof values, min: number, max: number) =>
    parseIntegerFlag(values[name] as string, `--${name}`, min, max);
  const fraction = (name: keyof typeof values) => parseFractionFlag(values[name] as string, `--${name}`);
  return {
    config: values.config,
    operator: operatorUrl
      ? {
          url: operatorUrl,
          ca: caFile ? { file: caFile } : { pem: caPem as string },
          tokenFile: values['token-file'] as string,
        }
      : undefined,
    application: values.application,
    upstream: values.upstream,
    upstreamAddress,
    listen: parseListen(values.listen, '--listen'),
    adminListen: parseListen(values['admin-listen'], '--admin-listen'),
    graceMs: duration('shutdown-grace'),
    delayMs: shutdownDelay(
      values['shutdown-delay'] === undefined ? undefined : duration('shutdown-delay'),
      duration('shutdown-grace'),
    ),
    pollIntervalMs: duration('poll-interval'),
    idleCollectionAfterMs: neverOrWithinHour('idle-collection-after', duration('idle-collection-after')),
    inProgressIntervalMs: neverOrWithinHour('in-progress-interval', duration('in-progress-interval')),
    revocationsDir: values['revocations-dir'],
    sessionEndsFile: values['session-ends-file'],
    limits: Object.freeze({
      maxHeaderBytes: integer('max-header-size', 1024, 1024 * 1024),
      headersTimeoutMs: duration('client-header-timeout'),
      idleTimeoutMs: duration('client-idle-timeout'),
      keepAliveTimeoutMs: duration('keep-alive-timeout'),
      maxConnections: integer('max-connections', 16, 1_000_000),
      listenBacklog: integer('listen-backlog', 1, 65_535),
      bodyTimeoutMs: duration('client-body-timeout'),
      bodyMinRate: integer('client-body-min-rate', 1, 1024 * 1024 * 1024),
      requestTimeoutMs: duration('client-request-timeout'),
      sendMinRate: integer('client-send-min-rate', 0, 1024 * 1024 * 1024),
      contendedRate: integer('client-contended-rate', 0, 1024 * 1024 * 1024),
      queueTimeoutMs: duration('upstream-queue-timeout'),
      maxQueue: integer('upstream-queue-size', 1, 1_000_000),
      anonymousShare: fraction('anonymous-share'),
      clientShare: fraction('client-share'),
      maxTunnels: integer('max-tunnels', 1, 1_000_000),
      maxClientTunnels: integer('max-client-tunnels', 1, 1_000_000),
    }),
  };
}

/** The delay when --shutdown-delay is not given (or half the grace, when that is shorter). */
export const DEFAULT_SHUTDOWN_DELAY_MS = 5_000;

/** --shutdown-delay: part of the grace, with at least as long after it to drain requests. */
function shutdownDelay(delayMs: number | undefined, graceMs: number): number {
  if (delayMs === undefined) return Math.min(DEFAULT_SHUTDOWN_DELAY_MS, Math.floor(graceMs / 2));
  if (delayMs > graceMs / 2)
    throw new UsageError('--shutdown-delay: at most half of --shutdown-grace (the rest drains requests)');
  return delayMs;
}

/**
 * A period that is 0 (never), or from a second (a quiet sidecar is not woken often for it) to an
 * hour (a timer stays within what setInterval takes): --idle-collection-after,
 * --in-progress-interval.
 */
function neverOrWithinHour(flag: string, ms: number): number {
  if (ms !== 0 && (ms < 1_000 || ms > 3_600_000))
    throw new UsageError(`--${flag}: 0s (never), or from 1s to 1h`);
  return ms;
}

/** Why a --upstream-address is not a host and port (`127.0.0.1:8080`, `[::1]:8443`, `app:80`), or undefined. */
export function upstreamAddressProblem(address: string): string | undefined {
  const match = /^(\[([0-9a-fA-F:.]+)\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):([0-9]{1,5})$/.exec(address);
  const port = Number(match?.[4]);
  const ipv6 = match?.[2];
  if (!match || port < 1 || port > 65_535 || (ipv6 !== undefined && isIP(ipv6) !== 6))
    return `must be host:port, e.g. 127.0.0.1:8080 or [::1]:8443 (got ${JSON.stringify(address)})`;
  return undefined;
}
