const NEWLINE = 0x0a;

export interface LineOptions {
  /** A line longer than this (in bytes) throws: the peer is not speaking the protocol. */
  readonly maxLineBytes: number;
  /** Called for every chunk that arrives, before its lines are yielded (e.g. to re-arm a stall timer). */
  readonly onChunk?: () => void;
}

/**
 * The lines of a newline-delimited stream (a watch, a config stream), decoded as UTF-8 only once
 * whole: a character split across chunks stays intact. Lines are yielded without their newline;
 * empty and whitespace-only lines are skipped, and bytes after the last newline (a line cut off
 * when the stream ended) are dropped. Each byte is searched once, whatever the chunking.
 */
export async function* ndjsonLines(
  chunks: AsyncIterable<Buffer | string>,
  options: LineOptions,
): AsyncGenerator<string> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const raw of chunks) {
    options.onChunk?.();
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    // The carry was searched already: look for the next newline in the new bytes only.
    let newline = buffer.indexOf(NEWLINE, carry.length);
    while (newline !== -1) {
      if (newline - start > options.maxLineBytes) throw lineTooLong(options.maxLineBytes);
      const line = buffer.toString('utf8', start, newline);
      if (line.trim()) yield line;
      start = newline + 1;
      newline = buffer.indexOf(NEWLINE, start);
    }
    carry = buffer.subarray(start);
    if (carry.length > options.maxLineBytes) throw lineTooLong(options.maxLineBytes);
  }
}

function lineTooLong(max: number): Error {
  return new Error(`a line exceeds ${max >= 1024 * 1024 ? `${max / (1024 * 1024)} MiB` : `${max} bytes`}`);
}
