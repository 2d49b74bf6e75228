import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  COALESCE_BELOW_BYTES,
  COALESCE_MAX_BYTES,
  CoalescedBody,
} from '../../sidecar/src/http/coalesced-body.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Collects what comes out, each piece as it came. */
function collect(body: CoalescedBody): Buffer[] {
  const out: Buffer[] = [];
  body.on('data', (piece: Buffer) => out.push(piece));
  return out;
}

describe('CoalescedBody', () => {
  it('joins the chunks written in one turn, and hands a lone chunk on at the end of its turn', async () => {
    const body = new CoalescedBody();
    const out = collect(body);
    for (let i = 0; i < 1_000; i++) body.write(Buffer.from('x'));
    await turn();
    expect(out.map((piece) => piece.length)).toEqual([1_000]);
    body.write(Buffer.from('y'));
    await turn();
    expect(out.map((piece) => piece.toString()).at(-1)).toBe('y');
    body.write(Buffer.from('z'));
    body.end();
    await turn();
    expect(Buffer.concat(out).toString()).toBe(`${'x'.repeat(1_000)}yz`);
  });

  it('hands a batch on as soon as it reaches its bound', () => {
    const body = new CoalescedBody();
    const out = collect(body);
    for (let i = 0; i < COALESCE_MAX_BYTES / 1024 - 1; i++) body.write(Buffer.alloc(1024));
    expect(out).toHaveLength(0);
    body.write(Buffer.alloc(1024));
    expect(out.map((piece) => piece.length)).toEqual([COALESCE_MAX_BYTES]);
  });

  it('hands the last bytes of a body of declared length on at once', () => {
    const body = new CoalescedBody(5_000 + 3);
    const out = collect(body);
    body.write(Buffer.alloc(5_000)); // large: as it is
    body.write(Buffer.from('ab'));
    expect(out.map((piece) => piece.length)).toEqual([5_000]);
    body.write(Buffer.from('c')); // the last byte: no wait for the end of the turn
    expect(out.map((piece) => piece.toString()).at(-1)).toBe('abc');
  });

  it('hands a large chunk on as it is, after the small ones held before it', () => {
    const body = new CoalescedBody();
    const out = collect(body);
    body.write(Buffer.from('ab'));
    body.write(Buffer.alloc(COALESCE_BELOW_BYTES, 'c'));
    expect(out.map((piece) => piece.length)).toEqual([2, COALESCE_BELOW_BYTES]);
    expect(out[0]?.toString()).toBe('ab');
  });

  it('holds the writer back while nobody reads: write() says so within a bounded amount', async () => {
    const body = new CoalescedBody();
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      if (!body.write(Buffer.alloc(100))) break;
      accepted += 100;
      if (i % 10 === 0) await turn(); // the chunks of a client's socket come over many turns
    }
    expect(accepted).toBeLessThan(4 * COALESCE_MAX_BYTES);
    expect(body.readableLength).toBeLessThan(4 * COALESCE_MAX_BYTES);
  });

  it('keeps every byte in order through a slow reader, whatever the chunk sizes and turns', async () => {
    const random = seededRandom(7);
    const sent: Buffer[] = [];
    for (let i = 0; i < 3_000; i++) {
      const size = 1 + Math.floor(random() * (random() < 0.1 ? 100_000 : 300));
      sent.push(Buffer.alloc(size, i % 251));
    }
    const body = new CoalescedBody();
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        if (random() < 0.2) setTimeout(callback, 1);
        else callback();
      },
    });
    const done = pipeline(body, slow);
    for (const [i, chunk] of sent.entries()) {
      if (!body.write(chunk)) await new Promise((resolve) => body.once('drain', resolve));
      if (i % 7 === 0) await turn();
    }
    body.end();
    await done;
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true);
  });
});
