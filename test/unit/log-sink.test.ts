import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createFdSink, type FdSinkOptions } from '../../lib/log/log-sink.ts';

/**
 * A sink over a real file, with every write call counted. Each write completes before the next
 * event-loop turn, as to a reader that keeps up (a file, /dev/null, a drained pipe).
 */
function countedSink(options: FdSinkOptions = {}) {
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-log-sink-')), 'out.log');
  const fd = openSync(path, 'w');
  const calls = { writes: 0 };
  const sink = createFdSink({
    ...options,
    fd,
    writeFn: (target, buffer, offset, length, _position, callback) => {
      calls.writes += 1;
      const written = writeSync(target, buffer, offset, length);
      process.nextTick(callback, null, written);
    },
  });
  return {
    sink,
    calls,
    read: () => readFileSync(path, 'utf8'),
    close: () => closeSync(fd),
  };
}

describe('fd log sink', () => {
  /** Four lines in each of 50 event-loop turns; answers the write calls it took. */
  async function fiftyTurns(options: FdSinkOptions): Promise<number> {
    const { sink, calls, read, close } = countedSink(options);
    const lines: string[] = [];
    for (let turn = 0; turn < 50; turn++) {
      for (let i = 0; i < 4; i++) {
        const line = `{"turn":${turn},"i":${i}}`;
        lines.push(line);
        sink.write(line);
      }
      await nextTurn();
    }
    await sink.flush();
    close();
    expect(read()).toBe(lines.map((l) => `${l}\n`).join(''));
    return calls.writes;
  }

  it('gathers the lines of many event-loop turns into a few writes, in order', async () => {
    // A write per turn (batchMs 0, the sidecar's behaviour before batching) is 50 writes.
    expect(await fiftyTurns({ batchMs: 0 })).toBeGreaterThanOrEqual(45);
    // The default 5 ms batch gathers them (the turns take microseconds).
    expect(await fiftyTurns({})).toBeLessThanOrEqual(5);
  });

  it('writes a line within the batch time without a flush', async () => {
    const { sink, read, close } = countedSink({ batchMs: 5 });
    sink.write('{"alone":true}');
    const started = Date.now();
    while (read() === '' && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 1));
    close();
    expect(read()).toBe('{"alone":true}\n');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('flush writes at once instead of waiting out the batch time', async () => {
    const { sink, read, close } = countedSink({ batchMs: 60_000 });
    sink.write('{"a":1}');
    sink.write('{"b":2}');
    const started = Date.now();
    await sink.flush();
    close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(read()).toBe('{"a":1}\n{"b":2}\n');
  });

  it('starts a write on the next turn once a batch is large', async () => {
    const { sink, calls, read, close } = countedSink({ batchMs: 60_000 });
    const big = 'x'.repeat(300 * 1024);
    sink.write(big);
    const started = Date.now();
    while (calls.writes === 0 && Date.now() - started < 2000) await nextTurn();
    expect(calls.writes).toBe(1);
    await sink.flush();
    close();
    expect(read().length).toBe(big.length + 1);
  });

  it('reports congestion above the high-water mark and clears it once written', async () => {
    const { sink, close } = countedSink({ highWaterBytes: 1000 });
    for (let i = 0; i < 40; i++) sink.write('y'.repeat(49));
    expect(sink.congested).toBe(true);
    await sink.whenUncongested();
    await sink.flush();
    expect(sink.congested).toBe(false);
    close();
  });

  it('writes lines serialized into its bytes beside string lines, and nothing of a line that failed', async () => {
    const { sink, read, close } = countedSink({ batchMs: 60_000 });
    sink.write('{"a":1}');
    sink.writeLine((w) => {
      w.ascii('{"b":');
      w.utf8('"é日"}');
    });
    expect(() =>
      sink.writeLine((w) => {
        w.ascii('{"half":');
        throw new Error('field failed');
      }),
    ).toThrow('field failed');
    sink.write('{"c":3}');
    // Lines larger than a staging chunk (64 KiB) keep their place.
    const large = `{"d":"${'x'.repeat(100_000)}"}`;
    sink.writeLine((w) => w.ascii(large));
    sink.write('{"e":5}');
    await sink.flush();
    close();
    expect(read()).toBe(`{"a":1}\n{"b":"é日"}\n{"c":3}\n${large}\n{"e":5}\n`);
  });
});
