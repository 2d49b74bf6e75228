import { logEvent } from '../../../contract/event-writer.ts';
import { SIDECAR_NODE_OPTIONS } from '../../../contract/sidecar-node-options.ts';
import { kernelBacklogCap } from '../../../lib/listen.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';
import { RESERVED_FILES } from '../../../lib/open-files.ts';
import { egressProxy } from '../auth/oidc-client.ts';
import type { SidecarFlags } from './sidecar-flags.ts';

/**
 * The lines a started sidecar writes when it runs with less than it was asked for: a listen queue
 * the kernel caps, connections the open-file limit caps, and the Node.js options missing (each
 * with what to do); and the egress proxy its calls to identity providers take, when it has one.
 */
export function logStartNotices(
  sink: LogSink,
  flags: SidecarFlags,
  started: {
    /** The process's open-file limit, when it could be read. */
    readonly fileLimit: number | undefined;
    /** The connections the sidecar takes within it. */
    readonly maxConnections: number;
    readonly nodeOptionsApplied: boolean;
  },
): void {
  const { fileLimit, maxConnections } = started;
  const backlogCap = kernelBacklogCap();
  if (backlogCap !== undefined && backlogCap < flags.limits.listenBacklog)
    logEvent(sink, 'listen_backlog_capped', {
      requested: flags.limits.listenBacklog,
      effective: backlogCap,
      hint: `set net.core.somaxconn to ${flags.limits.listenBacklog} for the pod (spec.securityContext.sysctls; the kubelet must allow it with --allowed-unsafe-sysctls), or give --listen-backlog=${backlogCap}`,
    });
  if (fileLimit !== undefined && maxConnections < flags.limits.maxConnections)
    logEvent(sink, 'max_connections_capped', {
      requested: flags.limits.maxConnections,
      effective: maxConnections,
      openFileLimit: fileLimit,
      hint: `raise the container's open-file limit (RLIMIT_NOFILE, set by the container runtime) to ${flags.limits.maxConnections + RESERVED_FILES}, or give --max-connections=${maxConnections}`,
    });
  const proxy = egressProxy();
  if (proxy !== null) logEvent(sink, 'egress_proxy', { proxies: [...proxy.proxies], noProxy: proxy.noProxy });
  if (!started.nodeOptionsApplied)
    logEvent(sink, 'node_options_missing', {
      expected: SIDECAR_NODE_OPTIONS,
      hint: `garbage collection costs more CPU per request or streaming holds more memory (V8 sizes the young generation from the memory limit), and V8 compiles can hold requests back under load; start with NODE_OPTIONS="${SIDECAR_NODE_OPTIONS}" as the image and injected sidecars do`,
    });
}
