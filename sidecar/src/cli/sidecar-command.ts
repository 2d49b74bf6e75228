import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { processKeys } from '../auth/process-keys.ts';
import type { ConfigListener } from '../config/config-source.ts';
import { createFileConfigSource } from '../config/file-source.ts';
import { createOperatorConfigSource, OPERATOR_CA_ENV } from '../config/operator-source.ts';
import { parseUpstreamOrigin } from '../config/render.ts';
import type { SidecarConfig } from '../config/sidecar-config.ts';
import { ConfigError } from '../errors.ts';
import { logEvent } from '../log/events.ts';
import { createFdSink, type LogSink } from '../log/log-sink.ts';
import { createAdminServer } from '../metrics/admin-server.ts';
import { createSidecarMetrics } from '../metrics/metrics.ts';
import { listenOn } from '../net/listen.ts';
import { createSidecar, DEFAULT_CLIENT_LIMITS } from '../server.ts';
import { parseDurationFlag, parseIntegerFlag, parseListen, UsageError } from './args.ts';

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
  --application <name>          which application to serve (files: when they define several;
                                operator: refused unless this pod serves it)
  --upstream <url>              origin to forward to, overriding spec.upstream.url (injected sidecars:
                                the app's port on 127.0.0.1)
  --listen <[host:]port>        traffic listener (default 0.0.0.0:4180)
  --admin-listen <[host:]port>  /metrics, /healthz, /readyz (default 0.0.0.0:9180)
  --shutdown-grace <duration>   time to drain in-flight requests on SIGTERM (default 25s)
  --max-header-size <bytes>     largest request head accepted, else 431 (default 16384)
  --client-header-timeout <d>   time for a client to send the request head, else 408 (default 10s)
  --client-idle-timeout <d>     longest client silence during a request (default 60s)
  --keep-alive-timeout <d>      idle keep-alive connection lifetime (default 65s)
  --poll-interval <d>           config re-check interval besides file watching (default 1s)
`;

/** Prints every config error with its path to stderr. */
export function reportConfigError(error: ConfigError): void {
  console.error(
    `gatehouse: configuration is invalid (${error.errors.length} error${error.errors.length === 1 ? '' : 's'}):`,
  );
  for (const e of error.errors) console.error(`  ${e.path}: ${e.message}`);
}

/** `gatehouse sidecar`: standalone (file) mode. Resolves with the process exit code. */
export async function runSidecarCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'operator-url': { type: 'string' },
      'operator-ca': { type: 'string' },
      'token-file': { type: 'string' },
      application: { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string', default: '0.0.0.0:4180' },
      'admin-listen': { type: 'string', default: '0.0.0.0:9180' },
      'shutdown-grace': { type: 'string', default: '25s' },
      'max-header-size': { type: 'string', default: String(DEFAULT_CLIENT_LIMITS.maxHeaderBytes) },
      'client-header-timeout': { type: 'string', default: '10s' },
      'client-idle-timeout': { type: 'string', default: '60s' },
      'keep-alive-timeout': { type: 'string', default: '65s' },
      'poll-interval': { type: 'string', default: '1s' },
    },
    strict: true,
    allowPositionals: false,
  });
  const operatorUrl = values['operator-url'];
  if (values.config && operatorUrl) throw new UsageError('give --config or --operator-url, not both');
  if (!values.config && !operatorUrl) throw new UsageError('--config or --operator-url is required');
  const operatorCa = values['operator-ca'] ?? process.env[OPERATOR_CA_ENV];
  if (operatorUrl && (!operatorCa || !values['token-file'])) {
    throw new UsageError(`--operator-url needs --operator-ca (or $${OPERATOR_CA_ENV}) and --token-file`);
  }
  const withUpstream = upstreamOverride(values.upstream);
  if (operatorUrl && !/^https:\/\//.test(operatorUrl)) throw new UsageError('--operator-url must be https');
  const listen = parseListen(values.listen, '--listen');
  const adminListen = parseListen(values['admin-listen'], '--admin-listen');
  const graceMs = parseDurationFlag(values['shutdown-grace'], '--shutdown-grace');
  const limits = {
    maxHeaderBytes: parseIntegerFlag(values['max-header-size'], '--max-header-size', 1024, 1024 * 1024),
    headersTimeoutMs: parseDurationFlag(values['client-header-timeout'], '--client-header-timeout'),
    idleTimeoutMs: parseDurationFlag(values['client-idle-timeout'], '--client-idle-timeout'),
    keepAliveTimeoutMs: parseDurationFlag(values['keep-alive-timeout'], '--keep-alive-timeout'),
  };
  const pollIntervalMs = parseDurationFlag(values['poll-interval'], '--poll-interval');

  const sink = createFdSink({
    onBroken: (error) =>
      console.error(`gatehouse: stdout is closed (${error.code}); log lines cannot be delivered`),
  });
  const metrics = createSidecarMetrics();
  const sidecar = createSidecar({ sink, metrics, limits });
  const sourceName = operatorUrl ? 'operator' : 'file';
  const listener: ConfigListener = {
    onConfig(received) {
      const config = withUpstream(received);
      sidecar.install(config);
      metrics.configReloaded(true);
      logConfigLoaded(sink, config, sourceName);
    },
    onRejected(error) {
      metrics.configReloaded(false);
      logEvent(sink, 'config_rejected', {
        app: sidecar.current()?.application.name ?? null,
        keptGeneration: sidecar.current()?.generation ?? null,
        errors: error.errors.map((e) => `${e.path}: ${e.message}`),
      });
    },
  };
  const source = operatorUrl
    ? createOperatorConfigSource(
        {
          url: operatorUrl,
          ca: values['operator-ca'] ? readFileSync(values['operator-ca']) : (operatorCa as string),
          tokenFile: values['token-file'] as string,
          ...(values.application ? { application: values.application } : {}),
          onConnection: (event) =>
            logEvent(sink, event.connected ? 'config_stream_connected' : 'config_stream_disconnected', {
              app: sidecar.current()?.application.name ?? values.application ?? null,
              ...(event.connected ? {} : { reason: event.reason, retryInMs: event.retryInMs }),
            }),
        },
        listener,
      )
    : createFileConfigSource(
        {
          path: values.config as string,
          pollIntervalMs,
          fallbackKeys: processKeys(),
          ...(values.application ? { application: values.application } : {}),
        },
        listener,
      );

  // The admin server answers before the first config: live, but not ready.
  const admin = createAdminServer(metrics, { ready: sidecar.ready });
  const adminAddress = await listenOn(admin, adminListen.port, adminListen.host);

  let config: Awaited<ReturnType<typeof source.start>>;
  try {
    config = withUpstream(await source.start());
  } catch (error) {
    admin.close();
    if (error instanceof ConfigError) {
      reportConfigError(error);
      return 1;
    }
    throw error;
  }
  sidecar.install(config);
  logConfigLoaded(sink, config, sourceName);
  const address = await sidecar.listen(listen.port, listen.host);
  logEvent(sink, 'sidecar_started', {
    app: config.application.name,
    listen: `${address.address}:${address.port}`,
    adminListen: `${adminListen.host}:${adminAddress.port}`,
    pid: process.pid,
  });

  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        process.exit(130); // second signal: stop now
      }
      stopping = true;
      logEvent(sink, 'sidecar_stopping', { signal, graceMs });
      source.close();
      await sidecar.shutdown(graceMs);
      admin.close();
      admin.closeAllConnections();
      logEvent(sink, 'sidecar_stopped', { signal });
      await sink.flush();
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

/** --upstream: a function that points a config at that origin, or the identity when the flag is absent. */
function upstreamOverride(flag: string | undefined): (config: SidecarConfig) => SidecarConfig {
  if (flag === undefined) return (config) => config;
  const { origin, problems } = parseUpstreamOrigin(flag);
  if (problems.length > 0) throw new UsageError(`--upstream ${problems.join('; ')}`);
  return (config) => Object.freeze({ ...config, upstream: Object.freeze({ ...config.upstream, origin }) });
}

/** The config_loaded event: which config now serves, and how many policies it enforces or audits. */
function logConfigLoaded(sink: LogSink, config: SidecarConfig, source: 'file' | 'operator'): void {
  const audit = config.policies.filter((p) => p.mode === 'audit').length;
  logEvent(sink, 'config_loaded', {
    app: config.application.name,
    generation: config.generation,
    source,
    policies: config.policies.length - audit,
    auditPolicies: audit,
    identityProviders: config.auth.providers.map((p) => p.name),
    serviceTokens: config.auth.serviceTokens.tokens.length,
    serviceAccounts: config.auth.serviceAccounts !== null,
  });
}
