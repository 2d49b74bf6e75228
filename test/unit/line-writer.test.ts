import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../lib/log/line-writer.ts';

/** Every line the writer holds, as text, and the chunks given back. */
function drain(w: LineWriter): string {
  const chunks = w.take();
  const text = chunks.map(({ chunk, end }) => chunk.toString('utf8', 0, end)).join('');
  for (const { chunk } of chunks) w.release(chunk);
  return text;
}

describe('log line writer', () => {
  it('keeps lines in order across chunks, with a line longer than a chunk among them', () => {
    const w = new LineWriter(32);
    const lines = [
      'short',
      'x'.repeat(31),
      'é日😀 and more than thirty-two bytes of text',
      'y'.repeat(100),
      'z',
    ];
    for (const line of lines) w.line((l) => l.utf8(line));
    expect(drain(w)).toBe(lines.map((l) => `${l}\n`).join(''));
    expect(w.queuedBytes).toBe(0);
  });

  it('drops every byte of a line whose serializer throws, and keeps the lines before and after', () => {
    const w = new LineWriter(16);
    w.line((l) => l.ascii('before'));
    expect(() =>
      w.line((l) => {
        l.ascii('half a line that moves to a new chunk');
        throw new Error('bad field');
      }),
    ).toThrow('bad field');
    w.line((l) => l.ascii('after'));
    expect(drain(w)).toBe('before\nafter\n');
  });

  it('counts the bytes of complete lines only, newlines included', () => {
    const w = new LineWriter();
    expect(w.line((l) => l.utf8('é'))).toBe(3);
    w.line((l) => l.bytes(Buffer.from('{}')));
    expect(w.queuedBytes).toBe(6);
    drain(w);
    expect(w.queuedBytes).toBe(0);
  });

  it('reuses chunks given back instead of allocating new ones', () => {
    const w = new LineWriter(64);
    w.line((l) => l.ascii('one'));
    const [first] = w.take();
    w.release(first?.chunk as Buffer);
    w.line((l) => l.ascii('two'));
    const [second] = w.take();
    // The chunk handed over second is the one the first take put in its place or the one given back.
    w.line((l) => l.ascii('three'));
    const [third] = w.take();
    expect(third?.chunk).toBe(first?.chunk);
    expect(second?.chunk).not.toBe(first?.chunk);
    expect(third?.chunk.toString('utf8', 0, third.end)).toBe('three\n');
  });
});
