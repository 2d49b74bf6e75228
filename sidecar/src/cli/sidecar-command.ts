import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { applicationLabel } from '../../../contract/application-label.ts';
import { parseUpstreamOrigin } from '../../../contract/config/render.ts';
import { configSecrets, type SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { OPERATOR_CA_ENV } from '../../../contract/config-stream.ts';
import { ConfigError, configErrorReport, locatedPath } from '../../../contract/errors.ts';
import { logEvent } from '../../../contract/event-writer.ts';
import { revocationTarget } from '../../../contract/revocations.ts';
import type { SessionEnd } from '../../../contract/session-ends.ts';
import { SIDECAR_NODE_OPTIONS, sidecarNodeOptionsApplied } from '../../../contract/sidecar-node-options.ts';
import { createAdminServer } from '../../../lib/admin-server.ts';
import { UsageError } from '../../../lib/args.ts';
import {
  type IdleCollection,
  memoryReducingCollection,
  startIdleCollection,
} from '../../../lib/idle-collection.ts';
import { CROWD_BACKLOG, listenAddress, listenOn } from '../../../lib/listen.ts';
import { createFdSink } from '../../../lib/log/log-sink.ts';
import { connectionsWithinOpenFiles, openFileLimit } from '../../../lib/open-files.ts';
import { certificatesOf } from '../../../lib/pem-certificates.ts';
import { createSessionEnds } from '../auth/session-ends.ts';
import type { ConfigListener } from '../config/config-source.ts';
import { createSidecarMetrics, type SidecarMetrics } from '../metrics/metrics.ts';
import { createSidecar, type Sidecar } from '../server.ts';
import { watchApplicationPort } from '../upstream/application-port.ts';
import { appOf, logConfigLoaded } from './config-loaded-line.ts';
import { exitOnDefect, FINAL_FLUSH_MS } from './exit-on-defect.ts';
import { createConfigWaitNotices, openConfigSource } from './sidecar-config-source.ts';
import { IDLE_COLLECTION_GAP, parseSidecarFlags, type SidecarFlags } from './sidecar-flags.ts';
import { openEndsFile, sessionEndReporter } from './sidecar-session-ends.ts';
import { logStartNotices } from './start-notices.ts';

/** `gatehouse sidecar`: resolves with the process exit code once stopped by a signal. */
export function runSidecarCommand(argv: string[]): Promise<number> {
  return runSidecar(parseSidecarFlags(argv));
}

/** The end of a stop: the time the last log lines get to reach stdout. */
const LOG_FLUSH_MS = 200;

/** Runs the sidecar with checked flags until SIGTERM or SIGINT. */
export async function runSidecar(flags: SidecarFlags): Promise<number> {
  const withUpstream = upstreamOverride(flags.upstream, flags.upstreamAddress);
  const sink = createFdSink({
    onBroken: (error) =>
      console.error(`gatehouse: stdout is closed (${error.code}); log lines cannot be delivered`),
  });
  // At rest (no request started for --idle-collection-after) the event loop's delay is not sampled.
  const metrics = createSidecarMetrics(
    flags.idleCollectionAfterMs > 0 ? { eventLoopQuietMs: flags.idleCollectionAfterMs } : {},
  );
  const operator = flags.operator;
  // Read and checked once: the config stream and the session-end reports both trust it.
  const operatorTrust = operator ? operatorCa(operator.ca) : '';
  const endTarget = (end: SessionEnd) => ({
    app: appOf(sidecar.current()),
    ...revocationTarget({ user: null, subject: end.subject ?? null, provider: end.provider ?? null, ...end }),
  });
  const { reporter, onSessionEndAccounts } = await sessionEndReporter(flags, operatorTrust, () =>
    sidecar.current(),
  );
  const file = flags.sessionEndsFile ? openEndsFile(flags.sessionEndsFile, sink) : undefined;
  const sessionEnds = createSessionEnds({
    ...(reporter ? { reporter } : {}),
    ...(file ? { file } : {}),
    onDelayed: (end, error, retryUntilMs) =>
      logEvent(sink, 'session_end_delayed', {
        ...endTarget(end),
        error,
        retryUntil: new Date(retryUntilMs).toISOString(),
      }),
    onGivenUp: (end, reason, error) => {
      metrics.sessionEndUnreported(reason);
      logEvent(sink, 'session_end_unreported', { ...endTarget(end), reason, error });
    },
    onReported: (end, outcome, ms) =>
      logEvent(sink, 'session_end_reported', {
        ...endTarget(end),
        attempts: outcome.attempts,
        errors: [...outcome.errors],
        durationMs: Math.round(ms),
      }),
  });
  if (reporter) metrics.watchSessionEnds(() => sessionEnds.delayed);
  const fileLimit = openFileLimit();
  const maxConnections = connectionsWithinOpenFiles(flags.limits.maxConnections, fileLimit);
  const sidecar = createSidecar({
    sink,
    metrics,
    limits: { ...flags.limits, maxConnections },
    sessionEnds: sessionEnds.ends,
    inProgressIntervalMs: flags.inProgressIntervalMs,
  });
  // The source's config, with the session ends this sidecar made that the source does not carry yet.
  let fromSource: SidecarConfig | undefined;
  const waitNotices = createConfigWaitNotices(
    flags,
    sink,
    metrics,
    () => sidecar.current(),
    () => sessionEnds.retryNow(),
  );
  // Session ends not through yet are given up, each with its line: the exit ends their rounds.
  exitOnDefect(
    sink,
    sidecar.server,
    () => void sessionEnds.stop(),
    () => (fromSource ? configSecrets(fromSource) : []),
  );
  const idle = idleCollection(flags, sidecar, metrics);
  // Standalone replicas sharing a revocations directory say there which revocations they enforce.
  // Loaded only then: a sidecar without the directory needs none of its file system calls.
  const replicaReport = flags.revocationsDir
    ? (await import('../config/replica-reporter.ts')).createReplicaReporter({
        directory: flags.revocationsDir,
        onError: (error) =>
          logEvent(sink, 'replica_report_failed', {
            path: `${flags.revocationsDir}/.replicas`,
            error: error.message,
          }),
      })
    : undefined;
  const installWithEnds = (config: SidecarConfig): void => {
    const merged = sessionEnds.local.merge(config);
    sidecar.install(merged);
    replicaReport?.installed(merged);
  };
  const install = (config: SidecarConfig): void => {
    fromSource = config;
    waitNotices.installed();
    metrics.workStarted(); // and so is its compile
    installWithEnds(config);
    idle.dirty();
  };
  sessionEnds.onReinstall(() => {
    if (!fromSource) return;
    metrics.workStarted();
    installWithEnds(fromSource);
  });
  const sourceName = operator ? 'operator' : 'file';
  const listener: ConfigListener = {
    onWork() {
      metrics.workStarted(); // a large config's parse and check are a stall the delay gauges show
    },
    onConfig(received) {
      const config = withUpstream(received);
      install(config);
      metrics.configReloaded(true);
      logConfigLoaded(sink, config, sourceName);
    },
    onRejected(error) {
      metrics.configReloaded(false);
      logEvent(sink, 'config_rejected', {
        app: appOf(sidecar.current()),
        keptGeneration: sidecar.current()?.generation ?? null,
        errors: error.errors.map((e) => `${locatedPath(e)}: ${e.message}`),
      });
    },
  };
  const source = await openConfigSource(
    flags,
    sink,
    operatorTrust,
    waitNotices,
    listener,
    onSessionEndAccounts,
  );

  // The admin server answers before the first config: live, but not ready. It is on the pod
  // network, where a crowd can fill a short listen queue and the kubelet's probes with it.
  const admin = createAdminServer(metrics, { ready: sidecar.ready });
  const adminAddress = await listenOn(
    admin,
    flags.adminListen.port,
    flags.adminListen.host,
    CROWD_BACKLOG,
    '--admin-listen',
  );

  let config: Awaited<ReturnType<typeof source.start>>;
  try {
    config = withUpstream(await source.start());
  } catch (error) {
    admin.close();
    if (error instanceof ConfigError) {
      process.stderr.write(configErrorReport(error.errors));
      return 1;
    }
    throw error;
  }
  install(config);
  logConfigLoaded(sink, config, sourceName);
  // The ends an earlier run kept hold before the first request; those not through yet are sent
  // again now that their lines can name the application.
  if (file) {
    const { ends, skippedLines } = file.kept;
    if (ends.length > 0 || skippedLines > 0)
      logEvent(sink, 'session_ends_restored', {
        app: applicationLabel(config.application),
        path: flags.sessionEndsFile as string,
        enforced: ends.length,
        reported: reporter ? ends.filter((kept) => !kept.settled).length : 0,
        skippedLines,
      });
    sessionEnds.restore(ends);
  }
  let address: AddressInfo;
  try {
    address = await sidecar.listen(flags.listen.port, flags.listen.host);
  } catch (error) {
    // The process ends: the lines written so far (the config loaded, the session ends restored) go first.
    await Promise.race([sink.flush(), new Promise((resolve) => setTimeout(resolve, FINAL_FLUSH_MS).unref())]);
    throw error;
  }
  replicaReport?.start(`${hostname()}:${address.port}`);
  const nodeOptionsApplied = sidecarNodeOptionsApplied();
  logEvent(sink, 'sidecar_started', {
    app: applicationLabel(config.application),
    listen: listenAddress(address.address, address.port),
    adminListen: listenAddress(adminAddress.address, adminAddress.port),
    pid: process.pid,
    nodeOptions: nodeOptionsApplied ? SIDECAR_NODE_OPTIONS : null,
  });
  logStartNotices(sink, flags, { fileLimit, maxConnections, nodeOptionsApplied });
  const applicationPort = watchApplicationPort({
    origin: () => sidecar.current()?.upstream.origin,
    onOpen: (port, addresses) =>
      logEvent(sink, 'application_port_open', {
        port,
        addresses: [...addresses],
        hint: `bind the application to 127.0.0.1:${port} (the sidecar reaches it there), or close the port with a NetworkPolicy; have it verify the identity JWT either way`,
      }),
    onKnown: (open) => metrics.watchApplicationPort(open),
  });

  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        process.exit(130); // second signal: stop now
      }
      stopping = true;
      const stopAt = performance.now();
      // The delay is for an orchestrator's SIGTERM; an interrupt at a terminal stops at once.
      const delayMs = signal === 'SIGTERM' ? flags.delayMs : 0;
      logEvent(sink, 'sidecar_stopping', { signal, graceMs: flags.graceMs, delayMs });
      idle.stop();
      applicationPort.stop();
      // Session ends that wait for a round get one now, while the pod is still being drained.
      sessionEnds.retryNow();
      // The config source stays open through the delay and the drain, so requests still served get
      // the revocations that arrive meanwhile; the admin port answers /readyz 503 meanwhile.
      const cut = await sidecar.shutdown(flags.graceMs, delayMs);
      // What is left of the grace goes to the session ends not through yet: the other sidecars of
      // the application learn of them only from this one.
      await sessionEnds.stop(flags.graceMs - (performance.now() - stopAt) - LOG_FLUSH_MS);
      source.close();
      await replicaReport?.stop();
      admin.closeAllConnections();
      admin.close();
      logEvent(sink, 'sidecar_stopped', { signal, ...cut });
      await Promise.race([sink.flush(), new Promise((r) => setTimeout(r, LOG_FLUSH_MS).unref())]);
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

/**
 * --upstream (a whole origin) or --upstream-address (host and port, the config's scheme kept): a
 * function that points a config there, or the identity when neither is given.
 */
function upstreamOverride(
  flag: string | undefined,
  address: string | undefined,
): (config: SidecarConfig) => SidecarConfig {
  const withOrigin = (config: SidecarConfig, origin: string): SidecarConfig =>
    Object.freeze({ ...config, upstream: Object.freeze({ ...config.upstream, origin }) });
  // The address alone: the config's scheme, and (in the config's tls) the name its certificate is checked for.
  if (address !== undefined)
    return (config) =>
      withOrigin(config, `${new URL(config.upstream.origin).protocol}//${address.toLowerCase()}`);
  if (flag === undefined) return (config) => config;
  const { origin, problems } = parseUpstreamOrigin(flag);
  if (problems.length > 0) throw new UsageError(`--upstream ${problems.join('; ')}`);
  return (config) => withOrigin(config, origin);
}

/** The memory-reducing collection once the sidecar is quiet (lib/idle-collection.ts). */
function idleCollection(flags: SidecarFlags, sidecar: Sidecar, metrics: SidecarMetrics): IdleCollection {
  return startIdleCollection({
    started: () => sidecar.requestsStarted(),
    quietMs: flags.idleCollectionAfterMs,
    minGapMs: IDLE_COLLECTION_GAP * flags.idleCollectionAfterMs,
    collect: memoryReducingCollection(),
    onCollected: (ms) => metrics.idleCollected(ms / 1000),
    heapBytes: () => getHeapStatistics().total_heap_size,
  });
}

/**
 * The certificates the operator's serving certificate is checked against, from `--operator-ca` or
 * `$GATEHOUSE_OPERATOR_CA`; a file or value without one stops the start with what is wrong, where
 * before every connection failed as untrusted, or one bad certificate was passed over.
 */
function operatorCa(ca: NonNullable<SidecarFlags['operator']>['ca']): string {
  const from = 'file' in ca ? `--operator-ca ${ca.file}` : `$${OPERATOR_CA_ENV}`;
  const read = certificatesOf('file' in ca ? readFileSync(ca.file, 'utf8') : ca.pem);
  if ('problem' in read) throw new UsageError(`${from} ${read.problem}`);
  return read.certificates;
}
