import type { AddressInfo } from 'node:net';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { createMemorySink } from '../../lib/log/log-sink.ts';
import { createSidecarMetrics, type SidecarMetrics } from '../../sidecar/src/metrics/metrics.ts';
import { type ClientLimits, createSidecar, type Sidecar } from '../../sidecar/src/server.ts';
import { assertLogLinesMatchSchema } from './log-line-check.ts';

/** A sidecar in the test process on an ephemeral loopback port, logging to memory. */
export interface InProcessSidecar {
  readonly sidecar: Sidecar;
  readonly metrics: SidecarMetrics;
  readonly url: string;
  readonly port: number;
  readonly lines: string[];
  /** Parsed event lines of a type (e.g. login_succeeded). */
  events(type: string): Record<string, unknown>[];
  /** Parsed request lines (type=request). */
  records(): Record<string, unknown>[];
  /** Waits until n request lines are written. */
  waitForRecords(n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Starts a sidecar serving the given config (or none yet: install it before the first request). */
export async function startSidecar(
  config: SidecarConfig | undefined,
  limits: Partial<ClientLimits> = {},
): Promise<InProcessSidecar> {
  const sink = createMemorySink();
  const metrics = createSidecarMetrics();
  const sidecar = createSidecar({ sink, metrics, limits });
  if (config) sidecar.install(config); // else the test installs one once it knows the port
  const address: AddressInfo = await sidecar.listen(0, '127.0.0.1');
  const records = () =>
    sink.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.type === 'request' || r.GatehouseType === 'request');
  return {
    sidecar,
    metrics,
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    lines: sink.lines,
    records,
    events: (type) =>
      sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === type),
    async waitForRecords(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (records().length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} request lines, got ${records().length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return records();
    },
    close: async () => {
      await sidecar.shutdown(2000);
      assertLogLinesMatchSchema(sink.lines);
    },
  };
}
