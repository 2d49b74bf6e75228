import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDurationFlag, parseIntegerFlag, parseListen, UsageError } from '../../../lib/args.ts';
import { loadConnection } from '../../../lib/kube/connection.ts';
import { loadInjectionSettings } from '../injection/injection-settings.ts';
import { createOperator, type OperatorOptions } from '../operator.ts';
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
  --listen <[host:]port>         config endpoint for sidecars (default 0.0.0.0:8443)
  --admin-listen <[host:]port>   /metrics, /healthz, /readyz (default 0.0.0.0:9090)
  --concurrency <n>              reconciles at once (default 4)
  --signing-key-rotation <d>     how long a signing key signs (default 720h)
  --signing-key-overlap <d>      publish-before and keep-after window (default 24h)
  --resync <d>                   full relist period (default 10m)
  --shutdown-grace <d>           time for running reconciles on SIGTERM (default 10s)
`;

/** Given certificate files, or the self-managed certificate for the Service's DNS names. */
function tlsOptions(
  values: Record<string, string | boolean | undefined>,
  namespace: string,
): OperatorOptions['tls'] {
  const cert = values['tls-cert-file'] as string | undefined;
  const key = values['tls-key-file'] as string | undefined;
  const ca = values['tls-ca-file'] as string | undefined;
  if (cert || key) {
    if (!cert || !key) throw new UsageError('--tls-cert-file and --tls-key-file go together');
    return {
      cert: readFileSync(cert),
      key: readFileSync(key),
      ...(ca ? { caBundle: readFileSync(ca, 'utf8') } : {}),
    };
  }
  const service = values['service-name'] as string;
  const extra = (values['tls-hosts'] as string)
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
    caValidityMs: parseDurationFlag(values['tls-ca-validity'] as string, '--tls-ca-validity'),
    certValidityMs: parseDurationFlag(values['tls-cert-validity'] as string, '--tls-cert-validity'),
    certRenewBeforeMs: parseDurationFlag(
      values['tls-cert-renew-before'] as string,
      '--tls-cert-renew-before',
    ),
  };
  const problems = validateServingTlsSettings(settings);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return { managed: { secretName: values['tls-secret'] as string, settings } };
}

const NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** \`gatehouse operator\`. Resolves with the process exit code after a graceful shutdown. */
export async function runOperatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
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
      listen: { type: 'string', default: '0.0.0.0:8443' },
      'admin-listen': { type: 'string', default: '0.0.0.0:9090' },
      concurrency: { type: 'string', default: '4' },
      'signing-key-rotation': { type: 'string', default: '720h' },
      'signing-key-overlap': { type: 'string', default: '24h' },
      resync: { type: 'string', default: '10m' },
      'shutdown-grace': { type: 'string', default: '10s' },
    },
    strict: true,
    allowPositionals: false,
  });
  const rotationMs = parseDurationFlag(values['signing-key-rotation'], '--signing-key-rotation');
  const overlapMs = parseDurationFlag(values['signing-key-overlap'], '--signing-key-overlap');
  if (overlapMs * 2 > rotationMs)
    throw new UsageError('--signing-key-overlap must be at most half of --signing-key-rotation');
  const namespace =
    values.namespace ??
    process.env.POD_NAMESPACE ??
    (existsSync(NAMESPACE_FILE) ? readFileSync(NAMESPACE_FILE, 'utf8').trim() : 'gatehouse-system');
  const graceMs = parseDurationFlag(values['shutdown-grace'], '--shutdown-grace');
  const tls = tlsOptions(values, namespace);
  const injection = values['injection-config']
    ? {
        settings: loadInjectionSettings(values['injection-config']),
        webhookConfiguration: values['webhook-configuration'],
      }
    : undefined;
  if (injection && !('managed' in tls) && !tls.caBundle)
    throw new UsageError(
      '--injection-config with --tls-cert-file needs --tls-ca-file (sidecars must trust the certificate)',
    );

  const operator = createOperator({
    connection: loadConnection(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    namespace,
    identity: values.identity ?? process.env.POD_NAME ?? hostname(),
    tls,
    ...(injection ? { injection } : {}),
    deliveryListen: parseListen(values.listen, '--listen'),
    adminListen: parseListen(values['admin-listen'], '--admin-listen'),
    concurrency: parseIntegerFlag(values.concurrency, '--concurrency', 1, 64),
    rotation: { rotationMs, overlapMs },
    watch: { resyncMs: parseDurationFlag(values.resync, '--resync') },
  });
  const ports = await operator.start();
  logOperatorEvent('operator_started', { namespace, ...ports, pid: process.pid });

  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) process.exit(130);
      stopping = true;
      logOperatorEvent('operator_stopping', { signal });
      operator.stop(graceMs).then(
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
