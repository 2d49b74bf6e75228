import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import {
  parseDurationFlag,
  parseIntegerFlag,
  parseListen,
  UsageError,
} from '../../../sidecar/src/cli/args.ts';
import { loadConnection } from '../kube/connection.ts';
import { createOperator } from '../operator.ts';
import { errorMessage, logOperatorEvent } from '../operator-log.ts';

export const OPERATOR_USAGE = `Usage: gatehouse operator --tls-cert-file <file> --tls-key-file <file> [options]

Watches AccessApplications and AccessPolicies, keeps each application's keys Secret, writes
status, and streams every sidecar its own application's config. Every replica serves config;
the one holding the Lease writes.

Options:
  --kubeconfig <file>            kubeconfig to use outside a cluster (default: in-cluster, else $KUBECONFIG)
  --namespace <ns>               namespace of the Lease (default: the pod's namespace, else gatehouse-system)
  --identity <name>              this replica in the Lease (default: the host name)
  --tls-cert-file <file>         serving certificate of the config endpoint (PEM)
  --tls-key-file <file>          its private key (PEM)
  --listen <[host:]port>         config endpoint for sidecars (default 0.0.0.0:8443)
  --admin-listen <[host:]port>   /metrics, /healthz, /readyz (default 0.0.0.0:9090)
  --concurrency <n>              reconciles at once (default 4)
  --signing-key-rotation <d>     how long a signing key signs (default 720h)
  --signing-key-overlap <d>      publish-before and keep-after window (default 24h)
  --resync <d>                   full relist period (default 10m)
  --shutdown-grace <d>           time for running reconciles on SIGTERM (default 10s)
`;

const NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** \`gatehouse operator\`. Resolves with the process exit code after a graceful shutdown. */
export async function runOperatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      identity: { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-key-file': { type: 'string' },
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
  if (!values['tls-cert-file'] || !values['tls-key-file'])
    throw new UsageError('--tls-cert-file and --tls-key-file are required');
  const rotationMs = parseDurationFlag(values['signing-key-rotation'], '--signing-key-rotation');
  const overlapMs = parseDurationFlag(values['signing-key-overlap'], '--signing-key-overlap');
  if (overlapMs * 2 > rotationMs)
    throw new UsageError('--signing-key-overlap must be at most half of --signing-key-rotation');
  const namespace =
    values.namespace ??
    process.env.POD_NAMESPACE ??
    (existsSync(NAMESPACE_FILE) ? readFileSync(NAMESPACE_FILE, 'utf8').trim() : 'gatehouse-system');
  const graceMs = parseDurationFlag(values['shutdown-grace'], '--shutdown-grace');

  const operator = createOperator({
    connection: loadConnection(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    namespace,
    identity: values.identity ?? process.env.POD_NAME ?? hostname(),
    tls: { cert: readFileSync(values['tls-cert-file']), key: readFileSync(values['tls-key-file']) },
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
