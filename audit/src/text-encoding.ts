import { TextDecoder } from 'node:util';

/**
 * A log file as UTF-8 bytes, whatever byte order mark it begins with. Sidecars write UTF-8
 * without one, but a file an analyst saved on Windows may have one: Windows PowerShell 5.1 writes
 * `kubectl logs ... > file` as UTF-16LE, and `Set-Content -Encoding UTF8` (or an editor) puts
 * a UTF-8 mark before the first line. The UTF-8 mark made the first line unreadable, dropped
 * unsaid; a UTF-16 file had no line the audit could read.
 */

const UTF8_MARK = [0xef, 0xbb, 0xbf];

/** The encoding a file's first bytes announce, and the length of the mark. */
function byteOrderMark(head: Buffer): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; length: number } {
  if (head[0] === UTF8_MARK[0] && head[1] === UTF8_MARK[1] && head[2] === UTF8_MARK[2])
    return { encoding: 'utf-8', length: 3 };
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le', length: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be', length: 2 };
  return { encoding: 'utf-8', length: 0 };
}

/**
 * The chunks of a file with its byte order mark taken off, and UTF-16 turned into UTF-8 (as it
 * comes, a chunk at a time). A file without a mark passes through untouched.
 */
export async function* utf8Chunks(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer | string> {
  let head: Buffer | undefined = Buffer.alloc(0);
  let decoder: TextDecoder | undefined;
  for await (const chunk of chunks) {
    if (decoder) {
      yield Buffer.from(decoder.decode(chunk as Buffer, { stream: true }));
      continue;
    }
    if (head === undefined || typeof chunk === 'string') {
      yield chunk;
      continue;
    }
    // The mark is read from the first three bytes, which may come in more than one chunk.
    head = Buffer.concat([head, chunk]);
    if (head.length < 3) continue;
    const mark = byteOrderMark(head);
    const rest = head.subarray(mark.length);
    head = undefined;
    if (mark.encoding === 'utf-8') {
      if (rest.length > 0) yield rest;
      continue;
    }
    decoder = new TextDecoder(mark.encoding);
    yield Buffer.from(decoder.decode(rest, { stream: true }));
  }
  if (decoder) {
    const last = decoder.decode();
    if (last.length > 0) yield Buffer.from(last);
  } else if (head !== undefined && head.length > 0) {
    // A file of fewer than three bytes.
    const rest = head.subarray(byteOrderMark(head).length);
    if (rest.length > 0) yield rest;
  }
}
