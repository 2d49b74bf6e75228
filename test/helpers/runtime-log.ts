/**
 * A container's output as container runtimes write it to the node's log files (CRI framing:
 * `<time> <stream> <F|P> <text>`), with the parts each runtime makes of long or cut lines.
 */

const NEWLINE = 0x0a;

/** One record: the time the runtime stamps, the stream, the tag and the text. */
function record(n: number, tag: 'F' | 'P', text: Buffer, stream: string, zone: string): Buffer {
  const time = new Date(Date.parse('2026-11-21T07:00:00.000Z') + n)
    .toISOString()
    .replace('Z', `000000${zone}`);
  return Buffer.concat([Buffer.from(`${time} ${stream} ${tag} `), text, Buffer.from('\n')]);
}

/**
 * CRI-O (conmon): the output is read in reads of `readBytes` (8 KiB); each line ended in the read
 * is a `F` record, and the unended rest of a read a `P` record, whatever its length.
 */
export function conmonLog(output: Buffer, readBytes = 8192, stream = 'stdout'): Buffer {
  const records: Buffer[] = [];
  for (let read = 0; read < output.length; read += readBytes) {
    const chunk = output.subarray(read, Math.min(read + readBytes, output.length));
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) {
        records.push(record(read, 'P', chunk.subarray(start), stream, '+00:00'));
        break;
      }
      records.push(record(read, 'F', chunk.subarray(start, end), stream, '+00:00'));
      start = end + 1;
    }
  }
  return Buffer.concat(records);
}

/** containerd: each line in records of at most `maxLine` bytes (16 KiB), all but the last `P`. */
export function containerdLog(output: Buffer, maxLine = 16_384, stream = 'stdout'): Buffer {
  const records: Buffer[] = [];
  let start = 0;
  let n = 0;
  while (start < output.length) {
    let end = output.indexOf(NEWLINE, start);
    if (end === -1) end = output.length;
    for (let at = start; ; at += maxLine) {
      const last = end - at <= maxLine;
      records.push(
        record(n++, last ? 'F' : 'P', output.subarray(at, last ? end : at + maxLine), stream, 'Z'),
      );
      if (last) break;
    }
    start = end + 1;
  }
  return Buffer.concat(records);
}
