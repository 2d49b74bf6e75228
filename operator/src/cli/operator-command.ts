import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { parseArgs } from 'node:util';
import { parseDurationFlag, parseIntegerFlag, parseListen, UsageError } from '../../../lib/args.ts';
import { parseCommandLine } from '../../../lib/command-line.ts';
import { DEFECT_EXIT_CODE, onDefect } from '../../../lib/defects.ts';
import { loadConnection } from '../../../lib/kube/connection.ts';
import { loadInjectionSettings } from '../injection/injection-settings.ts';
import { createOperator, type Operator, type OperatorOptions } from '../operator.ts';
import { errorMessage, logOperatorEvent } from '../operator-log.ts';
import { WEBHOOK_CONFIGURATION_NAME } from '../rbac.ts';
import { type ServingTlsSettings, validateServingTlsSettings } from '../tls/serving-tls-plan.ts';

export const OPERATOR_USAGE = `Usage: gatehouse operator [options]

Watches AccessApplications and AccessPolicies, keeps each application's keys Secret, writes
status, and streams every sidecar its own application's config. With --injection-config it also
injects the sidecar into opted-in pods (webhook) and labels opted-in Deployments. Every replica
serves; the one holding the Lease writes.

Options:
  --kubeconfig <file>            kubeconfig to use outside a cluster (default: in-cluster, else $KUBECONFIG)
  --namespace <ns>               namespace of the Lease (default: the pod's namespace, else gatehouse-system)
  --identity <name>              this replica in the Lease (default: the host name)
  --tls-secret <name>            Secret (in --namespace) where the operator keeps its own CA and
                                 serving certificate (default gatehouse-operator-tls)
  --service-name <name>          Service in front of the operator; its DNS names go in the certificate
                                 (default gatehouse-operator)
  --tls-hosts <a,b>              more DNS names or IP addresses for the certificate
  --tls-cert-validity <d>        serving certificate lifetime (default 2160h)
  --tls-cert-renew-before <d>    renew it this long before it expires (default 720h)
  --tls-ca-validity <d>          CA lifetime; it is rotated with a fifth left (default 87600h)
  --tls-cert-file <file>         use this serving certificate instead (PEM; e.g. from cert-manager)
  --tls-key-file <file>          its private key (PEM)
  --tls-ca-file <file>           the CA bundle sidecars should trust for it (needed with injection)
  --injection-config <file>      injection settings (YAML): enables the webhook and Deployment opt-in
  --webhook-configuration <name> MutatingWebhookConfiguration whose caBundle the operator keeps
                                 (default gatehouse-sidecar-injector; self-managed TLS only)
  --listen <[host]:port>         config endpoint for sidecars (default :8443: every IPv6 and IPv4 address)
  --admin-listen <[host]:port>   /metrics, /healthz, /readyz (default :9090)
  --concurrency <n>              reconciles at once (default 4)
  --signing-key-rotation <d>     how long a signing key signs (default 720h)
  --signing-key-overlap <d>      publish-before and keep-after window (default 24h)
  --resync <d>                   full relist period (default 10m)
  --shutdown-grace <d>           time for running reconciles on SIGTERM (default 10s)
  --shutdown-delay <d>           before that, from SIGTERM: /readyz answers 503 but webhook reviews,
                                 config streams and session ends are still served, for an API server
                                 and sidecars that learn late that the pod is going (default 5s)
`;

/** The operator's TLS as flags give it: certificate files to read, or the self-managed certificate. */
export type TlsFlags =
  | { readonly files: { readonly cert: string; readonly key: string; readonly ca?: string } }
  | Extract<OperatorOptions['tls'], { managed: unknown }>;

/** Everything `gatehouse operator` is told by its flags and environment; files are read by run. */
export interface OperatorFlags {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly identity: string;
  readonly tls: TlsFlags;
  readonly injection?: { readonly configFile: string; readonly webhookConfiguration: string };
  readonly deliveryListen: OperatorOptions['deliveryListen'];
  readonly adminListen: OperatorOptions['adminListen'];
  readonly concurrency: number;
  readonly rotation: { readonly rotationMs: number; readonly overlapMs: number };
  readonly resyncMs: number;
  readonly graceMs: number;
  /** From SIGTERM, how long the operator goes on serving before it stops (before graceMs). */
  readonly delayMs: number;
}

/** Where the operator runs: what fills in flags that were not given. */
export interface OperatorEnvironment {
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly hostname: string;
}

const OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  identity: { type: 'string' },
  'tls-secret': { type: 'string', default: 'gatehouse-operator-tls' },
  'service-name': { type: 'string', default: 'gatehouse-operator' },
  'tls-hosts': { type: 'string', default: '' },
  'tls-cert-validity': { type: 'string', default: '2160h' },
  'tls-cert-renew-before': { type: 'string', default: '720h' },
  'tls-ca-validity': { type: 'string', default: '87600h' },
  'tls-cert-file': { type: 'string' },
  'tls-key-file': { type: 'string' },
  'tls-ca-file': { type: 'string' },
  'injection-config': { type: 'string' },
  'webhook-configuration': { type: 'string', default: WEBHOOK_CONFIGURATION_NAME },
  listen: { type: 'string', default: ':8443' },
  'admin-listen': { type: 'string', default: ':9090' },
  concurrency: { type: 'string', default: '4' },
  'signing-key-rotation': { type: 'string', default: '720h' },
  'signing-key-overlap': { type: 'string', default: '24h' },
  resync: { type: 'string', default: '10m' },
  'shutdown-grace': { type: 'string', default: '10s' },
  'shutdown-delay': { type: 'string', default: '5s' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];

/** Given certificate files, or the self-managed certificate for the Service's DNS names. */
function tlsFlags(values: Values, namespace: string): TlsFlags {
  const cert = values['tls-cert-file'];
  const key = values['tls-key-file'];
  const ca = values['tls-ca-file'];
  if (cert || key) {
    if (!cert || !key) throw new UsageError('--tls-cert-file and --tls-key-file go together');
    return { files: { cert, key, ...(ca ? { ca } : {}) } };
  }
  const service = values['service-name'];
  const extra = values['tls-hosts']
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const settings: ServingTlsSettings = {
    hosts: [
      `${service}.${namespace}.svc`,
      `${service}.${namespace}.svc.cluster.local`,
      `${service}.${namespace}`,
      service,
      ...extra,
    ],
    caValidityMs: parseDurationFlag(values['tls-ca-validity'], '--tls-ca-validity'),
    certValidityMs: parseDurationFlag(values['tls-cert-validity'], '--tls-cert-validity'),
    certRenewBeforeMs: parseDurationFlag(values['tls-cert-renew-before'], '--tls-cert-renew-before'),
  };
  const problems = validateServingTlsSettings(settings);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return { managed: { secretName: values['tls-secret'], settings } };
}

/** The flags of `gatehouse operator`, checked; no side effects. Throws UsageError. */
export function parseOperatorFlags(argv: readonly string[], environment: OperatorEnvironment): OperatorFlags {
  const { values } = parseCommandLine({
    args: [...argv],
    options: OPTIONS,
    strict: true,
    allowPositionals: false,
  });
  const rotationMs = parseDurationFlag(values['signing-key-rotation'], '--signing-key-rotation');
  const overlapMs = parseDurationFlag(values['signing-key-overlap'], '--signing-key-overlap');
  if (overlapMs * 2 > rotationMs)
    throw new UsageError('--signing-key-overlap must be at most half of --signing-key-rotation');
  const namespace = values.namespace ?? environment.podNamespace ?? 'gatehouse-system';
  const tls = tlsFlags(values, namespace);
  const injectionConfig = values['injection-config'];
  if (injectionConfig && 'files' in tls && !tls.files.ca)
    throw new UsageError(
      '--injection-config with --tls-cert-file needs --tls-ca-file (sidecars must trust the certificate)',
    );
  return {
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    namespace,
    identity: values.identity ?? environment.podName ?? environment.hostname,
    tls,
    ...(injectionConfig
      ? { injection: { configFile: injectionConfig, webhookConfiguration: values['webhook-configuration'] } }
      : {}),
    deliveryListen: parseListen(values.listen, '--listen'),
    adminListen: parseListen(values['admin-listen'], '--admin-listen'),
    concurrency: parseIntegerFlag(values.concurrency, '--concurrency', 1, 64),
    rotation: { rotationMs, overlapMs },
    resyncMs: parseDurationFlag(values.resync, '--resync'),
    graceMs: parseDurationFlag(values['shutdown-grace'], '--shutdown-grace'),
    delayMs: shutdownDelay(parseDurationFlag(values['shutdown-delay'], '--shutdown-delay')),
  };
}

/**
 * --shutdown-delay: at most 15 s, so that it and the grace stay within the chart's 30 s
 * terminationGracePeriodSeconds with the default grace.
 */
function shutdownDelay(ms: number): number {
  if (ms > 15_000) throw new UsageError('--shutdown-delay: at most 15s');
  return ms;
}

const NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The operator's options from its flags: certificate and injection files read here. */
function operatorOptions(flags: OperatorFlags): OperatorOptions {
  const { tls } = flags;
  return {
    connection: loadConnection(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    namespace: flags.namespace,
    identity: flags.identity,
    tls:
      'files' in tls
        ? {
            cert: readFileSync(tls.files.cert),
            key: readFileSync(tls.files.key),
            ...(tls.files.ca ? { caBundle: readFileSync(tls.files.ca, 'utf8') } : {}),
          }
        : tls,
    ...(flags.injection
      ? {
          injection: {
            settings: loadInjectionSettings(flags.injection.configFile),
            webhookConfiguration: flags.injection.webhookConfiguration,
          },
        }
      : {}),
    deliveryListen: flags.deliveryListen,
    adminListen: flags.adminListen,
    concurrency: flags.concurrency,
    rotation: flags.rotation,
    watch: { resyncMs: flags.resyncMs },
  };
}

/** \`gatehouse operator\`. Resolves with the process exit code after a graceful shutdown. */
export async function runOperatorCommand(argv: string[]): Promise<number> {
  const flags = parseOperatorFlags(argv, {
    podNamespace:
      process.env.POD_NAMESPACE ??
      (existsSync(NAMESPACE_FILE) ? readFileSync(NAMESPACE_FILE, 'utf8').trim() : undefined),
    ...(process.env.POD_NAME ? { podName: process.env.POD_NAME } : {}),
    hostname: hostname(),
  });
  // A defect ends the operator at once (its lines are written as they come, so none is held),
  // but its reason goes on the log stream first, not only to stderr, without the secrets of the
  // configs it renders (client secrets of any shape, keys).
  let operator: Operator | undefined;
  onDefect(
    (report) => {
      logOperatorEvent('operator_failed', report);
      process.exit(DEFECT_EXIT_CODE);
    },
    () => operator?.hub.secrets() ?? [],
  );
  operator = createOperator(operatorOptions(flags));
  const ports = await operator.start();
  logOperatorEvent('operator_started', { namespace: flags.namespace, ...ports, pid: process.pid });

  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) process.exit(130);
      stopping = true;
      // The delay is for an orchestrator's SIGTERM; an interrupt at a terminal stops at once.
      const delayMs = signal === 'SIGTERM' ? flags.delayMs : 0;
      logOperatorEvent('operator_stopping', { signal, delayMs, graceMs: flags.graceMs });
      operator.stop(flags.graceMs, delayMs).then(
        () => {
          logOperatorEvent('operator_stopped', { signal });
          resolve(0);
        },
        (error: unknown) => {
          logOperatorEvent('operator_stop_failed', { error: errorMessage(error) });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
