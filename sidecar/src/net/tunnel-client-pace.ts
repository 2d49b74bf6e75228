import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { takenByKernel } from './client-rate-check.ts';

/**
 * How slowly a tunnel's client may take what the application sends, while the application waits
 * on it: nothing for `spanMs` (the client idle timeout), or under `minRate` on average over
 * each such span (`--client-send-min-rate`; 0: no rate, only the stall).
 */
export interface ClientPace {
  readonly spanMs: number;
  readonly minRate: number;
}

export const DEFAULT_CLIENT_PACE: ClientPace = Object.freeze({ spanMs: 60_000, minRate: 500 });

/**
 * Calls `cut` when a tunnel's client keeps the application waiting (the pipe paused its side
 * because the client has not taken what was sent) and, over a span of `pace.spanMs` from then,
 * took none of it (`stalled`: not one write completed), or took under `pace.minRate` bytes a
 * second on average (`too_slow`). A span ends early when the client has caught up; the next wait
 * starts a new one, so a WebSocket may be quiet, or its client briefly slow, for as long as it
 * likes. One whose client reads nothing while the application sends held what the kernel
 * buffers on both of the sidecar's sockets (megabytes each) for as long as it stayed open; one
 * whose client took a few bytes now and then, as long, since the stall alone never came. A
 * `spanMs` of 0 (no client idle timeout) sets no pace.
 */
export function cutWhenClientLags(
  upstream: Duplex,
  client: Socket,
  pace: ClientPace,
  cut: (why: 'stalled' | 'too_slow') => void,
): void {
  if (pace.spanMs === 0) return;
  let timer: NodeJS.Timeout | undefined;
  /** What the kernel had taken of the client's side when the span began. */
  let takenAtStart = 0;
  /** Whether a write to the client completed in the span. */
  let drained = false;
  const endOfSpan = (): void => {
    timer = undefined;
    if (!client.writableNeedDrain) return; // caught up: the next wait starts a span of its own
    if (!drained) {
      cut('stalled');
      return;
    }
    if (pace.minRate > 0 && ((takenByKernel(client) - takenAtStart) * 1000) / pace.spanMs < pace.minRate) {
      cut('too_slow');
      return;
    }
    startSpan();
  };
  const startSpan = (): void => {
    takenAtStart = takenByKernel(client);
    drained = false;
    timer = setTimeout(endOfSpan, pace.spanMs);
    timer.unref();
  };
  upstream.on('pause', () => {
    if (timer === undefined && client.writableNeedDrain) startSpan();
  });
  client.on('drain', () => {
    drained = true;
  });
  client.once('close', () => clearTimeout(timer));
}
