import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cutWhenClientLags } from '../../sidecar/src/net/tunnel-client-pace.ts';

/** A tunnel's client side as the pace sees it: what it was given, what it holds, whether full. */
class FakeClient extends EventEmitter {
  bytesWritten = 0;
  writableLength = 0;
  writableNeedDrain = false;
  /** The sidecar writes `bytes` the client does not take yet: the pipe pauses the application. */
  fill(upstream: EventEmitter, bytes: number): void {
    this.bytesWritten += bytes;
    this.writableLength += bytes;
    this.writableNeedDrain = true;
    upstream.emit('pause');
  }
  /** The client takes `bytes` of it; all of it drains the buffer. */
  take(bytes: number): void {
    this.writableLength -= bytes;
    if (this.writableLength === 0) {
      this.writableNeedDrain = false;
      this.emit('drain');
    }
  }
}

/** One tunnel under a pace of 1 s and 1,000 B/s; what was cut, and why. */
function tunnel(minRate = 1_000, spanMs = 1_000) {
  const upstream = new EventEmitter();
  const client = new FakeClient();
  const cuts: string[] = [];
  cutWhenClientLags(upstream as unknown as Duplex, client as unknown as Socket, { spanMs, minRate }, (why) =>
    cuts.push(why),
  );
  return { upstream, client, cuts };
}

describe('the pace of a tunnel client', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a client that takes nothing for a span while the application waits is cut as stalled', () => {
    const { upstream, client, cuts } = tunnel();
    client.fill(upstream, 64 * 1024);
    vi.advanceTimersByTime(999);
    expect(cuts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(cuts).toEqual(['stalled']);
  });

  it('a client whose writes complete, but at under the rate over the span, is cut as too slow', () => {
    const { upstream, client, cuts } = tunnel();
    client.fill(upstream, 500);
    vi.advanceTimersByTime(400);
    client.take(500); // 500 bytes in the span: 500 B/s
    client.fill(upstream, 64 * 1024);
    vi.advanceTimersByTime(600);
    expect(cuts).toEqual(['too_slow']);
  });

  it('a client at the rate goes on, span after span; one that falls under it later is cut then', () => {
    const { upstream, client, cuts } = tunnel();
    client.fill(upstream, 1_000);
    for (let span = 0; span < 5; span++) {
      vi.advanceTimersByTime(500);
      client.take(1_000);
      client.fill(upstream, 1_000);
      vi.advanceTimersByTime(500);
    }
    expect(cuts).toEqual([]);
    client.take(1_000);
    client.fill(upstream, 1_000);
    vi.advanceTimersByTime(1_000); // one write of 1,000 bytes at the span's start, none after
    expect(cuts).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(cuts).toEqual(['stalled']);
  });

  it('a client that has caught up at the end of a span is not cut, and its next wait is a span of its own', () => {
    const { upstream, client, cuts } = tunnel();
    client.fill(upstream, 100);
    vi.advanceTimersByTime(900);
    client.take(100); // 100 B/s, but it caught up: the application does not wait on it
    vi.advanceTimersByTime(100);
    expect(cuts).toEqual([]);
    vi.advanceTimersByTime(5_000); // a quiet WebSocket: no span runs
    client.fill(upstream, 64 * 1024);
    vi.advanceTimersByTime(999);
    expect(cuts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(cuts).toEqual(['stalled']);
  });

  it('no rate (0) leaves only the stall; no idle timeout (0 s) sets no pace at all', () => {
    const noRate = tunnel(0);
    noRate.client.fill(noRate.upstream, 500);
    vi.advanceTimersByTime(500);
    noRate.client.take(500);
    noRate.client.fill(noRate.upstream, 64 * 1024);
    vi.advanceTimersByTime(500);
    expect(noRate.cuts).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(noRate.cuts).toEqual(['stalled']);

    const noTimeout = tunnel(1_000, 0);
    noTimeout.client.fill(noTimeout.upstream, 64 * 1024);
    vi.advanceTimersByTime(3_600_000);
    expect(noTimeout.cuts).toEqual([]);
  });

  it('a client that closes ends its span: no cut after', () => {
    const { upstream, client, cuts } = tunnel();
    client.fill(upstream, 64 * 1024);
    client.emit('close');
    vi.advanceTimersByTime(10_000);
    expect(cuts).toEqual([]);
  });
});
