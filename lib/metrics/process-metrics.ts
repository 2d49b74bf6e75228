import gcDurations from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import nodeVersion from 'prom-client/lib/metrics/version.js';
import type { Registry } from './prom-core.ts';

/**
 * prom-client's default process metrics (CPU, memory, file descriptors, handles, heap spaces, GC,
 * version), from its own modules, except the event loop's delay: lib/metrics/event-loop-delay.ts
 * reports that under the same names, sampled only while there is work. prom-client's
 * collectDefaultMetrics registers all of them and cannot leave one out.
 */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  const config = { prefix };
  for (const register of [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    processResources,
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    nodeVersion,
    gcDurations,
  ])
    register(registry, config);
}
