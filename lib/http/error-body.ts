import type { Readable } from 'node:stream';

/**
 * The start of an error answer's body, to quote in a message: at most `maxBytes`, read for at
 * most `timeoutMs`; the rest is not read (the body is destroyed, and its connection with it).
 * Reading the whole of it held the memory of an answer without end (an operator, or whatever
 * answers in its place, sending one), and the caller's retries behind it.
 */
export async function errorBodyStart(body: Readable, maxBytes = 300, timeoutMs = 2_000): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => body.destroy(), timeoutMs);
  try {
    for await (const chunk of body) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(bytes);
      size += bytes.length;
      if (size >= maxBytes) break;
    }
  } catch {
    // Cut by the timeout, or reset: what came is enough to quote.
  } finally {
    clearTimeout(timer);
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}
