import { describe, expect, it } from 'vitest';
import { boundedResponse, ResponseTooLarge } from '../../lib/http/bounded-response.ts';

const URL_ = 'https://idp.example/token';

/** A response whose body comes in the given chunks, counting what was pulled from it. */
function answer(chunks: number[], init: ResponseInit = {}): { response: Response; pulled: () => number } {
  let pulled = 0;
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const size = chunks[i++];
      if (size === undefined) return controller.close();
      pulled += size;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
  });
  return { response: new Response(body, init), pulled: () => pulled };
}

describe('boundedResponse', () => {
  it.each<[string, number[], number, boolean]>([
    ['under the bound', [10, 20, 30], 100, true],
    ['exactly the bound', [50, 50], 100, true],
    ['one byte over, in the last chunk', [50, 51], 100, false],
    ['over in the first chunk', [1_000], 100, false],
    ['empty', [], 100, true],
  ])('%s', async (_what, chunks, max, whole) => {
    const { response } = answer(chunks);
    const read = boundedResponse(response, URL_, max).arrayBuffer();
    if (whole) expect((await read).byteLength).toBe(chunks.reduce((a, b) => a + b, 0));
    else await expect(read).rejects.toBeInstanceOf(ResponseTooLarge);
  });

  it('stops pulling from the answer at the bound: an endless one is not read on', async () => {
    const { response, pulled } = answer(Array.from({ length: 10_000 }, () => 64 * 1024));
    await expect(boundedResponse(response, URL_, 1024 * 1024).text()).rejects.toMatchObject({
      code: 'response_too_large',
      message: 'the answer of https://idp.example is over 1048576 bytes (cut there)',
    });
    expect(pulled()).toBeLessThan(4 * 1024 * 1024);
  });

  it('refuses at once an answer whose Content-Length is over the bound, reading none of it', () => {
    const { response, pulled } = answer([10], { headers: { 'content-length': '5000' } });
    expect(() => boundedResponse(response, URL_, 100)).toThrow(ResponseTooLarge);
    expect(pulled()).toBeLessThanOrEqual(10);
  });

  it('keeps status, headers and a body-less answer as they are', async () => {
    const { response } = answer([3], { status: 201, statusText: 'Created', headers: { 'x-a': '1' } });
    const bounded = boundedResponse(response, URL_, 100);
    expect([bounded.status, bounded.statusText, bounded.headers.get('x-a')]).toEqual([201, 'Created', '1']);
    const empty = new Response(null, { status: 204 });
    expect(boundedResponse(empty, URL_, 1)).toBe(empty);
  });
});
